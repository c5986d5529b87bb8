using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Cmp.Flows.Security;

/// <summary>Limits applied when a flow fetches a URL chosen by a user or a model.</summary>
public sealed class SsrfOptions
{
    /// <summary>
    /// Skips the address check entirely (schemes and userinfo are still checked).
    /// Only for tests and deployments that deliberately talk to their own network.
    /// </summary>
    public bool AllowPrivateNetworks { get; init; }

    public int MaxRedirects { get; init; } = 5;

    public long MaxResponseBytes { get; init; } = 2_000_000;

    /// <summary>Covers the whole fetch, redirects and body included, not just each request.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Address policy; null means <see cref="SsrfGuard.IsForbidden(IPAddress)"/>.
    /// Injectable so tests can tell loopback addresses apart without reaching the internet.
    /// </summary>
    public Func<IPAddress, bool>? IsForbidden { get; init; }
}

public sealed record FetchResult(Uri FinalUrl, int StatusCode, string? ContentType, string Body, bool Truncated);

/// <summary>A URL, redirect or resolved address was refused before any traffic reached it.</summary>
public sealed class SsrfBlockedException : Exception
{
    public SsrfBlockedException()
    {
    }

    public SsrfBlockedException(string message)
        : base(message)
    {
    }

    public SsrfBlockedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

public static class SsrfGuard
{
    public static bool IsForbidden(IPAddress address) => Classify(address) is not null;

    /// <summary>
    /// The address check lives in ConnectCallback: the handler resolves the name itself and connects to
    /// exactly the addresses it checked, so DNS cannot rebind between the check and the connect.
    /// </summary>
    public static HttpClient CreateClient(SsrfOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            // Redirects are followed by FetchAsync so that every hop's URL is validated too.
            AllowAutoRedirect = false,
            // A proxy would do the resolving and connecting, bypassing the callback.
            UseProxy = false,
            Proxy = null,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = options.Timeout,
            ConnectCallback = (context, ct) => ConnectAsync(context.DnsEndPoint, options, ct),
        };
        return new HttpClient(handler) { Timeout = options.Timeout };
    }

    public static async Task<FetchResult> FetchAsync(
        HttpClient client,
        Uri url,
        SsrfOptions options,
        IReadOnlyDictionary<string, string>? headers,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(options);

        // HttpClient.Timeout stops at the response headers; the body and the redirect chain need their own limit.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Timeout);
        try
        {
            return await FetchCoreAsync(client, url, options, headers, timeout.Token);
        }
        // HttpClient.Timeout and our own token both land here; only the caller's token means "cancelled".
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Fetching {url} took longer than {options.Timeout}.", ex);
        }
    }

    private static async Task<FetchResult> FetchCoreAsync(
        HttpClient client,
        Uri url,
        SsrfOptions options,
        IReadOnlyDictionary<string, string>? headers,
        CancellationToken ct)
    {
        var current = url;
        for (var redirects = 0; ; redirects++)
        {
            ValidateUrl(current, options);

            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            // Caller headers may carry credentials; they must not follow a redirect to another origin.
            if (headers is not null && IsSameOrigin(current, url))
            {
                foreach (var (name, value) in headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }
            }

            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            }
            catch (HttpRequestException ex) when (FindBlocked(ex) is { } blocked)
            {
                // The handler wraps ConnectCallback failures; surface the refusal itself.
                ExceptionDispatchInfo.Capture(blocked).Throw();
                throw;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                if (IsRedirect(status) && response.Headers.Location is { } location)
                {
                    if (redirects >= options.MaxRedirects)
                    {
                        throw new SsrfBlockedException(
                            $"{current.Host} redirected more than {options.MaxRedirects} times (started at {url}).");
                    }

                    // Location may be relative; the next loop iteration validates the result.
                    current = location.IsAbsoluteUri ? location : new Uri(current, location);
                    continue;
                }

                var (body, truncated) = await ReadBodyAsync(response.Content, options.MaxResponseBytes, ct);
                return new FetchResult(current, status, response.Content.Headers.ContentType?.ToString(), body, truncated);
            }
        }
    }

    private static void ValidateUrl(Uri url, SsrfOptions options)
    {
        if (!url.IsAbsoluteUri)
        {
            throw new SsrfBlockedException($"{url} is not an absolute URL.");
        }

        if (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
        {
            throw new SsrfBlockedException($"{url.Scheme}: URLs are not allowed (only http and https), refused {url}.");
        }

        // userinfo is a classic way to disguise the real host ("http://trusted@evil/") and leaks credentials.
        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            throw new SsrfBlockedException($"{url.Host}: URLs with user info are not allowed.");
        }

        // Literal addresses can be refused before any connection; names are checked at connect time.
        if (IPAddress.TryParse(url.DnsSafeHost, out var literal))
        {
            CheckAddress(url.DnsSafeHost, literal, resolved: false, options);
        }
    }

    private static async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, SsrfOptions options, CancellationToken ct)
    {
        // IPv6 literals may arrive in brackets depending on how the handler built the endpoint.
        var host = endPoint.Host.StartsWith('[') && endPoint.Host.EndsWith(']') ? endPoint.Host[1..^1] : endPoint.Host;

        IPAddress[] addresses;
        var resolved = false;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            addresses = await Dns.GetHostAddressesAsync(host, ct);
            resolved = true;
            if (addresses.Length == 0)
            {
                throw new SocketException((int)SocketError.HostNotFound);
            }
        }

        CheckAddresses(host, addresses, resolved, options);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // Connect to the checked addresses, never to the name, so nothing is resolved twice.
            await socket.ConnectAsync(addresses, endPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Every address must pass, not just the first: the socket may fall back to any of them.</summary>
    internal static void CheckAddresses(string host, IReadOnlyList<IPAddress> addresses, bool resolved, SsrfOptions options)
    {
        foreach (var address in addresses)
        {
            CheckAddress(host, address, resolved, options);
        }
    }

    private static void CheckAddress(string host, IPAddress address, bool resolved, SsrfOptions options)
    {
        if (options.AllowPrivateNetworks)
        {
            return;
        }

        var reason = Classify(address);
        var forbidden = options.IsForbidden is { } policy ? policy(address) : reason is not null;
        if (!forbidden)
        {
            return;
        }

        reason ??= "forbidden by the address policy";
        throw new SsrfBlockedException(resolved
            ? $"{host} resolves to {address}, which is {reason}."
            : $"{host} is {reason}.");
    }

    private static SsrfBlockedException? FindBlocked(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is SsrfBlockedException blocked)
            {
                return blocked;
            }
        }

        return null;
    }

    private static bool IsRedirect(int status) => status is 301 or 302 or 303 or 307 or 308;

    private static bool IsSameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase)
        && a.Port == b.Port;

    private static async Task<(string Body, bool Truncated)> ReadBodyAsync(HttpContent content, long maxBytes, CancellationToken ct)
    {
        // The string has to fit in memory anyway; cap the limit to what an array can hold.
        var limit = (int)Math.Clamp(maxBytes, 0, Array.MaxLength);
        await using var stream = await content.ReadAsStreamAsync(ct);
        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(81920);
        var truncated = false;
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(chunk, ct);
                if (read == 0)
                {
                    break;
                }

                var take = (int)Math.Min(read, limit - buffer.Length);
                buffer.Write(chunk, 0, take);
                if (take < read)
                {
                    // Stop reading here; disposing the response aborts the rest of the body.
                    truncated = true;
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return (Decode(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), content.Headers.ContentType?.CharSet, truncated), truncated);
    }

    private static string Decode(ReadOnlySpan<byte> bytes, string? charset, bool truncated)
    {
        var encoding = EncodingFor(charset);
        // A byte order mark is more reliable than the header, as browsers also assume.
        if (bytes.StartsWith(Encoding.UTF8.Preamble))
        {
            encoding = Encoding.UTF8;
            bytes = bytes[Encoding.UTF8.Preamble.Length..];
        }
        else if (bytes.StartsWith(Encoding.BigEndianUnicode.Preamble))
        {
            encoding = Encoding.BigEndianUnicode;
            bytes = bytes[2..];
        }
        else if (bytes.StartsWith(Encoding.Unicode.Preamble))
        {
            encoding = Encoding.Unicode;
            bytes = bytes[2..];
        }

        // Without flushing, a multi-byte character cut off by truncation is dropped instead of becoming U+FFFD.
        var decoder = encoding.GetDecoder();
        var chars = new char[decoder.GetCharCount(bytes, flush: !truncated)];
        var written = decoder.GetChars(bytes, chars, flush: !truncated);
        return new string(chars, 0, written);
    }

    private static Encoding EncodingFor(string? charset)
    {
        var name = charset?.Trim().Trim('"', '\'');
        if (string.IsNullOrEmpty(name))
        {
            return Encoding.UTF8;
        }

        try
        {
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            // Legacy code pages (windows-1252, shift_jis...) without registering a process-wide provider.
            return CodePagesEncodingProvider.Instance.GetEncoding(name) ?? Encoding.UTF8;
        }
    }

    /// <summary>Why an address must not be fetched, or null when it is a public unicast address.</summary>
    internal static string? Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> v4 = stackalloc byte[4];
            address.TryWriteBytes(v4, out _);
            return ClassifyV4(BinaryPrimitives.ReadUInt32BigEndian(v4));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "not an IP address";
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        var hi = BinaryPrimitives.ReadUInt64BigEndian(b);
        var lo = BinaryPrimitives.ReadUInt64BigEndian(b[8..]);
        var low32 = (uint)lo;

        if (hi == 0 && lo == 0)
        {
            return "an unspecified address";
        }

        if (hi == 0 && lo == 1)
        {
            return "a loopback address";
        }

        // ::ffff:a.b.c.d is the same destination as a.b.c.d on a dual-mode socket.
        if (hi == 0 && lo >> 32 == 0xFFFF)
        {
            return Embedded("IPv4-mapped", low32);
        }

        // ::a.b.c.d (IPv4-compatible) is deprecated; nothing legitimate uses it.
        if (hi == 0 && lo >> 32 == 0)
        {
            return "an IPv4-compatible IPv6 address (deprecated)";
        }

        // 64:ff9b::/96 well-known NAT64 prefix: a NAT64 gateway would forward to the embedded IPv4 address.
        if (hi == 0x0064_FF9B_0000_0000 && lo >> 32 == 0)
        {
            return Embedded("NAT64", low32);
        }

        // 64:ff9b:1::/48 is the local-use NAT64 prefix; its mapping is site-specific.
        if (hi >> 16 == 0x0064_FF9B_0001)
        {
            return "a local-use NAT64 address";
        }

        // 2002:AABB:CCDD::/48 is 6to4 for AA.BB.CC.DD.
        if (hi >> 48 == 0x2002)
        {
            return Embedded("6to4", (uint)(hi >> 16));
        }

        // 2001:0::/32 Teredo: server IPv4 in bits 32-63, client IPv4 inverted in the last 32 bits.
        if (hi >> 32 == 0x2001_0000)
        {
            return Embedded("Teredo server", (uint)hi) ?? Embedded("Teredo client", ~low32);
        }

        if (hi >> 32 == 0x2001_0DB8)
        {
            return "a documentation address";
        }

        if (hi == 0x0100_0000_0000_0000)
        {
            return "a discard-only address";
        }

        var first16 = (ushort)(hi >> 48);
        if ((first16 & 0xFE00) == 0xFC00)
        {
            return "a unique-local address";
        }

        if ((first16 & 0xFFC0) == 0xFE80)
        {
            return "a link-local address";
        }

        if ((first16 & 0xFFC0) == 0xFEC0)
        {
            return "a site-local address";
        }

        if ((first16 & 0xFF00) == 0xFF00)
        {
            return "a multicast address";
        }

        return null;
    }

    private static string? Embedded(string kind, uint v4) =>
        ClassifyV4(v4) is { } reason ? $"{reason} ({kind} {new IPAddress([(byte)(v4 >> 24), (byte)(v4 >> 16), (byte)(v4 >> 8), (byte)v4])})" : null;

    private static string? ClassifyV4(uint a)
    {
        static bool In(uint address, uint network, int prefix) =>
            (address & (uint.MaxValue << (32 - prefix))) == network;

        return a switch
        {
            0 => "an unspecified address",
            _ when In(a, 0x0000_0000, 8) => "a \"this network\" address",
            _ when In(a, 0x7F00_0000, 8) => "a loopback address",
            _ when In(a, 0x0A00_0000, 8) => "a private address",
            _ when In(a, 0xAC10_0000, 12) => "a private address",
            _ when In(a, 0xC0A8_0000, 16) => "a private address",
            _ when In(a, 0xA9FE_0000, 16) => "a link-local address",
            _ when In(a, 0x6440_0000, 10) => "a carrier-grade NAT address",
            _ when In(a, 0xC000_0000, 24) => "an IETF protocol assignment address",
            _ when In(a, 0xC000_0200, 24) => "a documentation address",
            _ when In(a, 0xC633_6400, 24) => "a documentation address",
            _ when In(a, 0xCB00_7100, 24) => "a documentation address",
            _ when In(a, 0xC612_0000, 15) => "a benchmarking address",
            _ when In(a, 0xE000_0000, 4) => "a multicast address",
            uint.MaxValue => "a broadcast address",
            _ when In(a, 0xF000_0000, 4) => "a reserved address",
            _ => null,
        };
    }
}
