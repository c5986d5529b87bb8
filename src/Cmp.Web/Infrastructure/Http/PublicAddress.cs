using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// CMP's public address, the base of every link it builds (mails, <c>url</c> fields, <c>Location</c>, embed code):
/// <c>Cmp:PublicUrl</c> when set, else, on a server that listens on loopback only (the zero-configuration
/// <c>dotnet run</c>), its own listening address. Never the request's <c>Host</c> header, which any client chooses.
/// </summary>
public sealed class PublicAddress(IConfiguration configuration, IServiceProvider services)
{
    public const string Setting = "Cmp:PublicUrl";

    private string? _listening;

    /// <summary>The base URL without a trailing slash, such as <c>https://cmp.example.com</c> or <c>http://127.0.0.1:5000</c>.</summary>
    public string BaseUrl => Configured(configuration) ?? (_listening ??= FromListeningAddress());

    /// <summary>The validated <c>Cmp:PublicUrl</c>, or null when unset.</summary>
    public static string? Configured(IConfiguration configuration)
    {
        var raw = configuration[Setting];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }
        if (!Uri.TryCreate(raw.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new InvalidOperationException($"Cmp__PublicUrl must be an absolute http or https address such as https://cmp.example.com, not '{raw}'.");
        }
        return uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    private string FromListeningAddress()
    {
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        // In-memory test servers listen nowhere; they are reached as http://localhost.
        var first = addresses?.FirstOrDefault(Listening.IsLoopback) ?? addresses?.FirstOrDefault();
        return first is null ? "http://localhost" : first.TrimEnd('/');
    }
}

/// <summary>Where the server is told to listen, read from configuration before it starts, and whether that is beyond this machine.</summary>
public static class Listening
{
    /// <summary>
    /// The addresses configuration asks for: <c>urls</c> (<c>--urls</c>, <c>ASPNETCORE_URLS</c>), <c>http_ports</c> /
    /// <c>https_ports</c> (<c>ASPNETCORE_HTTP_PORTS</c>: every interface) and <c>Kestrel:Endpoints:*:Url</c>. Empty:
    /// Kestrel's default, http://localhost:5000.
    /// </summary>
    public static List<string> Requested(IConfiguration configuration)
    {
        var urls = new List<string>();
        urls.AddRange((configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (var (key, scheme) in new[] { ("http_ports", "http"), ("https_ports", "https") })
        {
            urls.AddRange((configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => $"{scheme}://*:{p}"));
        }
        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>());
        return urls;
    }

    /// <summary>True for an address on this machine only: localhost, 127.0.0.0/8, ::1.</summary>
    public static bool IsLoopback(string url)
    {
        var host = HostOf(url);
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>The first requested address that other machines could reach, or null when every one is loopback.</summary>
    public static string? BeyondLoopback(IConfiguration configuration) => Requested(configuration).FirstOrDefault(u => !IsLoopback(u));

    private static string HostOf(string url)
    {
        var rest = url.Contains("://", StringComparison.Ordinal) ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : url;
        rest = rest.Split('/')[0];
        if (rest.StartsWith('['))
        {
            return rest[..(rest.IndexOf(']') + 1)];
        }
        var colon = rest.LastIndexOf(':');
        return colon >= 0 ? rest[..colon] : rest;
    }
}
