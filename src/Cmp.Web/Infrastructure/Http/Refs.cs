using System.Diagnostics.CodeAnalysis;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// Object identifiers on the wire: a <c>uuid</c> is 32 lowercase hex characters, and an object
/// may be referred to by its uuid or by its <c>url</c>.
/// </summary>
public static class Refs
{
    public static string Hex(this Guid id) => id.ToString("N");

    /// <summary>Accepts a uuid (with or without dashes) or a URL whose last segment is one.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out Guid id)
    {
        id = Guid.Empty;
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2000)
        {
            return false;
        }
        var text = value.Trim();
        if (text.Contains('/'))
        {
            var segments = text.Split('?')[0].TrimEnd('/').Split('/');
            text = segments[^1];
        }
        return Guid.TryParseExact(text, "N", out id) || Guid.TryParseExact(text, "D", out id);
    }

    public static string Url(HttpContext context, string collection, Guid id) =>
        $"{BaseUrl(context)}/api/{collection}/{id:N}/";

    /// <summary>CMP's public address (<see cref="PublicAddress"/>): <c>Cmp:PublicUrl</c>, else the loopback address the server listens on.</summary>
    public static string BaseUrl(IServiceProvider services) => services.GetRequiredService<PublicAddress>().BaseUrl;

    /// <summary>CMP's public address, as above; never the request's Host header.</summary>
    public static string BaseUrl(HttpContext context) => BaseUrl(context.RequestServices);
}
