using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Widget;

public sealed class WidgetEndpointTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private static string Version(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content))[..12];

    [Fact]
    public async Task Loader_IsJavaScript_Cached_OpenToEveryOrigin_AndSmall()
    {
        var client = _api.Anonymous();
        using var response = await client.GetAsync("/widget/loader.js");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.True(response.Headers.CacheControl?.Public);
        Assert.Equal(TimeSpan.FromSeconds(300), response.Headers.CacheControl?.MaxAge);
        Assert.NotNull(response.Headers.ETag);
        Assert.Null(response.Content.Headers.ContentEncoding.FirstOrDefault());
        var content = await response.Content.ReadAsByteArrayAsync();
        var text = Encoding.UTF8.GetString(content);
        Assert.Contains("WaldurWidget", text);
        Assert.Contains("attachShadow", text);

        // Under 30 KB gzipped.
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(content);
        }
        Assert.True(gzipped.Length < 30 * 1024, $"loader.js is {gzipped.Length} bytes gzipped");

        // A revalidation with the ETag is answered 304.
        using var again = new HttpRequestMessage(HttpMethod.Get, "/widget/loader.js");
        again.Headers.TryAddWithoutValidation("If-None-Match", response.Headers.ETag!.ToString());
        using var notModified = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        // The versioned URL holds the same bytes for a year.
        var version = Version(content);
        using var versioned = await client.GetAsync($"/widget/loader.{version}.js");
        Assert.Equal(HttpStatusCode.OK, versioned.StatusCode);
        Assert.Equal("text/javascript", versioned.Content.Headers.ContentType?.MediaType);
        Assert.Equal("*", versioned.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("public, max-age=31536000, immutable", versioned.Headers.CacheControl?.ToString());
        Assert.Equal(content, await versioned.Content.ReadAsByteArrayAsync());

        // An older version leads to the current one.
        using var stale = await client.GetAsync("/widget/loader.000000000000.js");
        Assert.Equal(HttpStatusCode.Redirect, stale.StatusCode);
        Assert.Equal($"/widget/loader.{version}.js", stale.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Loader_IsCompressed_WhenTheClientAsks()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/widget/loader.js");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using var response = await _api.Anonymous().SendAsync(request);
        Assert.Equal("gzip", response.Content.Headers.ContentEncoding.Single());
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        await using var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        Assert.Contains("WaldurWidget", await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task WidgetEmbed_ForTheOwner_UsesCmpsOwnAddress_NeverTheHostHeader_OthersSeeNothing()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/customer-agent-configs/{world.Config}/widget_embed/");
        request.Headers.Host = "cmp.example.test:8443";
        var embed = await Json.ReadAsync(await world.Buyer.Client.SendAsync(request), HttpStatusCode.OK);
        Assert.Equal(world.Config, embed["widget_id"]!.GetValue<string>());
        Assert.Equal("http://localhost/widget/loader.js", embed["loader_url"]!.GetValue<string>());
        var code = embed["embed_code"]!.GetValue<string>();
        Assert.Contains("<script src=\"http://localhost/widget/loader.js\"></script>", code);
        Assert.Contains($"WaldurWidget.init({{widget_id: \"{world.Config}\"", code);

        var plain = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/widget_embed/"), HttpStatusCode.OK);
        Assert.Equal("http://localhost/widget/loader.js", plain["loader_url"]!.GetValue<string>());

        var outsider = await _api.NewUserAsync();
        await Json.ProblemAsync(await outsider.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/widget_embed/"), HttpStatusCode.NotFound, "/problems/not-found");
        await Json.ProblemAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{Guid.NewGuid():N}/widget_embed/"), HttpStatusCode.NotFound, "/problems/not-found");
        using var anonymous = await _api.Anonymous().GetAsync($"/api/customer-agent-configs/{world.Config}/widget_embed/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var staff = await _api.StaffAsync();
        await Json.ReadAsync(await staff.GetAsync($"/api/customer-agent-configs/{world.Config}/widget_embed/"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task WidgetEmbed_BehindAProxy_UsesThePublicUrl()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await using var behindProxy = factory.WithWebHostBuilder(b => b.UseSetting("Cmp:PublicUrl", "https://agents.example.com/"));
        using var client = behindProxy.CreateClient();
        client.DefaultRequestHeaders.Authorization = world.Buyer.Client.DefaultRequestHeaders.Authorization;
        var embed = await Json.ReadAsync(await client.GetAsync($"/api/customer-agent-configs/{world.Config}/widget_embed/"), HttpStatusCode.OK);
        Assert.Equal("https://agents.example.com/widget/loader.js", embed["loader_url"]!.GetValue<string>());
        Assert.Contains("<script src=\"https://agents.example.com/widget/loader.js\"></script>", embed["embed_code"]!.GetValue<string>());
    }

    [Fact]
    public async Task DemoPage_ShowsTheWidget_AndEscapesAHostileAgentName()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        const string hostile = "<img src=x onerror=alert(1)></script><script>alert(2)</script>";
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { agent_name = hostile }), HttpStatusCode.OK);

        using var response = await _api.Anonymous().GetAsync($"/widget/demo/{world.Config}?key=ar_pk_live_x");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self' 'nonce-", csp);
        Assert.DoesNotContain("script-src 'self' 'unsafe-inline'", csp);
        var html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<img src=x", html);
        Assert.DoesNotContain("alert(2)</script>", html);
        Assert.Contains("\\u003Cimg src=x onerror=alert(1)\\u003E", html);
        Assert.Contains("?key=ar_pk_live_", html); // says how to use it
        var version = Version(await (await _api.Anonymous().GetAsync("/widget/loader.js")).Content.ReadAsByteArrayAsync());
        Assert.Contains($"<script src=\"/widget/loader.{version}.js\"></script>", html);

        using var unknown = await _api.Anonymous().GetAsync($"/widget/demo/{Guid.NewGuid():N}");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var malformed = await _api.Anonymous().GetAsync("/widget/demo/not-a-widget");
        Assert.Equal(HttpStatusCode.NotFound, malformed.StatusCode);
    }
}
