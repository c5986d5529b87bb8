using System.Net;
using System.Text;
using Cmp.Flows.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Cmp.Flows.Tests.Security;

public sealed class SsrfGuardTests
{
    private static readonly SsrfOptions Private = new() { AllowPrivateNetworks = true };

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("0.1.2.3")]
    [InlineData("10.0.0.1")]
    [InlineData("10.255.255.255")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.255")]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.254")]
    [InlineData("169.254.169.254")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.0.0.8")]
    [InlineData("192.0.2.1")]
    [InlineData("192.168.1.1")]
    [InlineData("198.18.0.1")]
    [InlineData("198.19.255.255")]
    [InlineData("224.0.0.1")]
    [InlineData("239.255.255.250")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::127.0.0.1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("fe80::1")]
    [InlineData("febf:ffff::1")]
    [InlineData("fc00::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("64:ff9b::7f00:1")] // NAT64 of 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe")] // NAT64 of 169.254.169.254
    [InlineData("64:ff9b:1::1")]
    [InlineData("2002:7f00:1::1")] // 6to4 of 127.0.0.1
    [InlineData("2002:c0a8:101::1")] // 6to4 of 192.168.1.1
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe")] // Teredo client 127.0.0.1
    [InlineData("2001:db8::1")]
    [InlineData("100::1")]
    public void IsForbidden_RefusesNonPublicAddresses(string address)
    {
        Assert.True(SsrfGuard.IsForbidden(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("9.255.255.255")]
    [InlineData("11.0.0.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.0")]
    [InlineData("169.253.255.255")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.0")]
    [InlineData("192.0.1.1")]
    [InlineData("192.167.255.255")]
    [InlineData("192.169.0.0")]
    [InlineData("198.17.255.255")]
    [InlineData("198.20.0.0")]
    [InlineData("223.255.255.255")]
    [InlineData("2606:4700::1111")]
    [InlineData("2001:4860:4860::8888")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")] // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::1")] // 6to4 of 8.8.8.8
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7")] // Teredo client 8.8.8.8
    public void IsForbidden_AllowsPublicAddresses(string address)
    {
        Assert.False(SsrfGuard.IsForbidden(IPAddress.Parse(address)));
    }

    [Fact]
    public async Task Fetch_LoopbackLiteral_RefusedByDefault_WithoutContactingServer()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions();
        using var client = SsrfGuard.CreateClient(options);

        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, server.Url("/"), options, null, CancellationToken.None));

        Assert.Contains("127.0.0.1 is a loopback address", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Hits);
    }

    [Fact]
    public async Task Fetch_LoopbackLiteral_SucceedsWhenPrivateNetworksAllowed()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        using var client = SsrfGuard.CreateClient(Private);

        var result = await SsrfGuard.FetchAsync(client, server.Url("/"), Private, null, CancellationToken.None);

        Assert.Equal(200, result.StatusCode);
        Assert.Equal("hello", result.Body);
        Assert.False(result.Truncated);
        Assert.Equal(server.Url("/"), result.FinalUrl);
        Assert.StartsWith("text/plain", result.ContentType, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_Localhost_RefusedAfterResolution()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions();
        using var client = SsrfGuard.CreateClient(options);
        var url = new Uri($"http://localhost:{server.Port}/");

        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, url, options, null, CancellationToken.None));

        Assert.Contains("localhost resolves to", ex.Message, StringComparison.Ordinal);
        Assert.Contains("loopback", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Hits);
    }

    [Fact]
    public async Task Fetch_Localhost_SucceedsWhenPrivateNetworksAllowed()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        using var client = SsrfGuard.CreateClient(Private);
        var url = new Uri($"http://localhost:{server.Port}/");

        var result = await SsrfGuard.FetchAsync(client, url, Private, null, CancellationToken.None);

        Assert.Equal("hello", result.Body);
    }

    [Fact]
    public async Task CreateClient_GuardsConnectionsMadeWithoutFetchAsync()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");

        using var guarded = SsrfGuard.CreateClient(new SsrfOptions());
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.GetAsync(server.Url("/")));
        Assert.IsType<SsrfBlockedException>(ex.InnerException);
        Assert.Equal(0, server.Hits);

        using var open = SsrfGuard.CreateClient(Private);
        Assert.Equal("hello", await open.GetStringAsync(server.Url("/")));
    }

    [Fact]
    public async Task CreateClient_RefusesIpv6LoopbackLiteralInConnectCallback()
    {
        // Nothing listens on [::1]:1, so a connection error instead of a refusal would mean the check was skipped.
        using var client = SsrfGuard.CreateClient(new SsrfOptions());

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri("http://[::1]:1/")));

        var blocked = Assert.IsType<SsrfBlockedException>(ex.InnerException);
        Assert.Contains("::1 is a loopback address", blocked.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://127.0.0.1/pub")]
    [InlineData("gopher://127.0.0.1:70/_x")]
    public async Task Fetch_NonHttpScheme_RefusedEvenWhenPrivateNetworksAllowed(string url)
    {
        using var client = SsrfGuard.CreateClient(Private);

        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, new Uri(url), Private, null, CancellationToken.None));

        Assert.Contains("only http and https", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_UserInfo_RefusedBeforeConnecting()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        using var client = SsrfGuard.CreateClient(Private);
        var withUserInfo = new Uri($"http://user:secret@127.0.0.1:{server.Port}/");

        await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, withUserInfo, Private, null, CancellationToken.None));
        Assert.Equal(0, server.Hits);

        var result = await SsrfGuard.FetchAsync(client, server.Url("/"), Private, null, CancellationToken.None);
        Assert.Equal("hello", result.Body);
    }

    [Fact]
    public async Task Fetch_FollowsRedirectsUpToMaxRedirects()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions { AllowPrivateNetworks = true, MaxRedirects = 3 };
        using var client = SsrfGuard.CreateClient(options);

        var result = await SsrfGuard.FetchAsync(client, server.Url("/redirect/3"), options, null, CancellationToken.None);

        Assert.Equal(200, result.StatusCode);
        Assert.Equal("done", result.Body);
        Assert.Equal(server.Url("/redirect/0"), result.FinalUrl);
        Assert.Equal(4, server.Hits);
    }

    [Fact]
    public async Task Fetch_TooManyRedirects_Throws()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions { AllowPrivateNetworks = true, MaxRedirects = 3 };
        using var client = SsrfGuard.CreateClient(options);

        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, server.Url("/redirect/4"), options, null, CancellationToken.None));

        Assert.Contains("more than 3", ex.Message, StringComparison.Ordinal);
        // The fourth redirect is refused without being followed.
        Assert.Equal(4, server.Hits);
    }

    [Fact]
    public async Task Fetch_RedirectToFileScheme_Refused()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        using var client = SsrfGuard.CreateClient(Private);

        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, server.Url("/to-file"), Private, null, CancellationToken.None));

        Assert.Contains("file:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_RedirectWithUserInfo_Refused()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        using var client = SsrfGuard.CreateClient(Private);

        await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, server.Url("/to-userinfo"), Private, null, CancellationToken.None));

        Assert.Equal(1, server.Hits);
    }

    [Fact]
    public async Task Fetch_RedirectFromAllowedHostToForbiddenHost_RefusedAtTheHop()
    {
        await using var forbidden = await TestServer.StartAsync("127.0.0.2");
        await using var allowed = await TestServer.StartAsync("127.0.0.1", forbidden.Url("/"));
        var options = new SsrfOptions { IsForbidden = a => a.Equals(IPAddress.Parse("127.0.0.2")) };
        using var client = SsrfGuard.CreateClient(options);

        // The policy itself lets 127.0.0.1 through...
        var direct = await SsrfGuard.FetchAsync(client, allowed.Url("/"), options, null, CancellationToken.None);
        Assert.Equal("hello", direct.Body);

        // ...but not the redirect hop to 127.0.0.2.
        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(client, allowed.Url("/cross"), options, null, CancellationToken.None));

        Assert.Contains("127.0.0.2", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, allowed.Hits);
        Assert.Equal(0, forbidden.Hits);
    }

    [Fact]
    public async Task Fetch_RedirectToOtherHost_FollowedWhenPolicyAllowsIt()
    {
        await using var second = await TestServer.StartAsync("127.0.0.2");
        await using var first = await TestServer.StartAsync("127.0.0.1", second.Url("/"));
        var options = new SsrfOptions { IsForbidden = _ => false };
        using var client = SsrfGuard.CreateClient(options);

        var result = await SsrfGuard.FetchAsync(client, first.Url("/cross"), options, null, CancellationToken.None);

        Assert.Equal("hello", result.Body);
        Assert.Equal(second.Url("/"), result.FinalUrl);
        Assert.Equal(1, second.Hits);
    }

    [Fact]
    public async Task Fetch_ResolvedNameCheckedAgainstInjectedPolicy()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var url = new Uri($"http://localhost:{server.Port}/");

        var strict = new SsrfOptions { IsForbidden = a => a.Equals(IPAddress.Loopback) };
        using var strictClient = SsrfGuard.CreateClient(strict);
        var ex = await Assert.ThrowsAsync<SsrfBlockedException>(
            () => SsrfGuard.FetchAsync(strictClient, url, strict, null, CancellationToken.None));
        Assert.Contains("localhost resolves to 127.0.0.1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Hits);

        var lenient = new SsrfOptions { IsForbidden = _ => false };
        using var lenientClient = SsrfGuard.CreateClient(lenient);
        var result = await SsrfGuard.FetchAsync(lenientClient, url, lenient, null, CancellationToken.None);
        Assert.Equal("hello", result.Body);
    }

    [Fact]
    public void CheckAddresses_RefusesWhenAnyResolvedAddressIsForbidden()
    {
        // A name with one public and one private record must not be fetched: the socket could use either.
        IPAddress[] mixed = [IPAddress.Parse("1.1.1.1"), IPAddress.Parse("10.0.0.1")];
        IPAddress[] allPublic = [IPAddress.Parse("1.1.1.1"), IPAddress.Parse("2606:4700::1111")];

        var ex = Assert.Throws<SsrfBlockedException>(
            () => SsrfGuard.CheckAddresses("example.test", mixed, resolved: true, new SsrfOptions()));
        Assert.Equal("example.test resolves to 10.0.0.1, which is a private address.", ex.Message);

        SsrfGuard.CheckAddresses("example.test", allPublic, resolved: true, new SsrfOptions());
        SsrfGuard.CheckAddresses("example.test", mixed, resolved: true, Private);
    }

    [Fact]
    public async Task Fetch_EndlessBody_TruncatedAtMaxResponseBytes()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions { AllowPrivateNetworks = true, MaxResponseBytes = 100_000 };
        using var client = SsrfGuard.CreateClient(options);

        // The server never stops writing, so returning at all proves the body was not read to the end.
        var result = await SsrfGuard.FetchAsync(client, server.Url("/endless"), options, null, CancellationToken.None);

        Assert.True(result.Truncated);
        Assert.Equal(100_000, result.Body.Length);
        Assert.All(result.Body, c => Assert.Equal('x', c));
    }

    [Theory]
    [InlineData(1000, false)]
    [InlineData(1001, true)]
    public async Task Fetch_TruncatesOnlyBeyondMaxResponseBytes(int size, bool truncated)
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions { AllowPrivateNetworks = true, MaxResponseBytes = 1000 };
        using var client = SsrfGuard.CreateClient(options);

        var result = await SsrfGuard.FetchAsync(client, server.Url($"/exact/{size}"), options, null, CancellationToken.None);

        Assert.Equal(truncated, result.Truncated);
        Assert.Equal(1000, result.Body.Length);
    }

    [Theory]
    [InlineData("/latin1", "café")]
    [InlineData("/utf8-no-charset", "café ☕")]
    public async Task Fetch_DecodesUsingCharsetWithUtf8Default(string path, string expected)
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        using var client = SsrfGuard.CreateClient(Private);

        var result = await SsrfGuard.FetchAsync(client, server.Url(path), Private, null, CancellationToken.None);

        Assert.Equal(expected, result.Body);
    }

    [Fact]
    public async Task Fetch_SendsHeadersOnlyToTheOriginalOrigin()
    {
        await using var second = await TestServer.StartAsync("127.0.0.2");
        await using var first = await TestServer.StartAsync("127.0.0.1", second.Url("/echo-header"));
        using var client = SsrfGuard.CreateClient(Private);
        var headers = new Dictionary<string, string> { ["X-Test"] = "secret" };

        var sameOrigin = await SsrfGuard.FetchAsync(client, first.Url("/to-echo"), Private, headers, CancellationToken.None);
        var crossOrigin = await SsrfGuard.FetchAsync(client, first.Url("/cross"), Private, headers, CancellationToken.None);

        Assert.Equal("secret", sameOrigin.Body);
        Assert.Equal("", crossOrigin.Body);
    }

    [Fact]
    public async Task Fetch_SlowServer_TimesOut()
    {
        await using var server = await TestServer.StartAsync("127.0.0.1");
        var options = new SsrfOptions { AllowPrivateNetworks = true, Timeout = TimeSpan.FromMilliseconds(300) };
        using var client = SsrfGuard.CreateClient(options);

        await Assert.ThrowsAsync<TimeoutException>(
            () => SsrfGuard.FetchAsync(client, server.Url("/slow"), options, null, CancellationToken.None));

        var fast = await SsrfGuard.FetchAsync(client, server.Url("/"), options, null, CancellationToken.None);
        Assert.Equal("hello", fast.Body);
    }

    /// <summary>A real Kestrel server on a loopback address, counting the requests it receives.</summary>
    private sealed class TestServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _hits;

        private TestServer(WebApplication app) => _app = app;

        public int Hits => Volatile.Read(ref _hits);

        public int Port { get; private set; }

        private string Host { get; init; } = "";

        public Uri Url(string path) => new($"http://{Host}:{Port}{path}");

        public static async Task<TestServer> StartAsync(string host, Uri? crossTarget = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls($"http://{host}:0");
            var app = builder.Build();
            var server = new TestServer(app) { Host = host };

            app.Use(next => context =>
            {
                Interlocked.Increment(ref server._hits);
                return next(context);
            });
            app.MapGet("/", () => "hello");
            app.MapGet("/redirect/{n:int}", (int n) => n > 0 ? Results.Redirect($"/redirect/{n - 1}") : Results.Text("done"));
            app.MapGet("/to-file", () => Results.Redirect("file:///etc/passwd"));
            app.MapGet("/to-userinfo", (HttpContext context) => Results.Redirect($"http://user:secret@{context.Request.Host}/"));
            app.MapGet("/to-echo", () => Results.Redirect("/echo-header"));
            app.MapGet("/echo-header", (HttpContext context) => context.Request.Headers["X-Test"].ToString());
            app.MapGet("/cross", () => crossTarget is null ? Results.NotFound() : Results.Redirect(crossTarget.ToString()));
            app.MapGet("/exact/{n:int}", (int n) => Results.Text(new string('x', n)));
            app.MapGet("/latin1", () => Results.Bytes(Encoding.Latin1.GetBytes("café"), "text/plain; charset=iso-8859-1"));
            app.MapGet("/utf8-no-charset", () => Results.Bytes(Encoding.UTF8.GetBytes("café ☕"), "text/plain"));
            app.MapGet("/slow", async (HttpContext context) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
                return "late";
            });
            app.MapGet("/endless", async (HttpContext context) =>
            {
                var chunk = new byte[64 * 1024];
                Array.Fill(chunk, (byte)'x');
                context.Response.ContentType = "text/plain";
                try
                {
                    while (!context.RequestAborted.IsCancellationRequested)
                    {
                        await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    // The client hung up after reading its fill, which is the point.
                }
            });

            await app.StartAsync();
            server.Port = new Uri(app.Urls.Single()).Port;
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
