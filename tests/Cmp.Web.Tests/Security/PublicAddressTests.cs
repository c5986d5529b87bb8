using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Security;

/// <summary>
/// Links never follow the request's Host header: without <c>Cmp__PublicUrl</c> they use the server's own loopback
/// address (here the test server's http://localhost), with it that address; a server reachable from other machines
/// does not start without it; <c>AllowedHosts</c> is honoured.
/// </summary>
public sealed class PublicAddressTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private static HttpRequestMessage WithHost(HttpMethod method, string path, object? body, string host)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Host = host;
        return request;
    }

    [Fact]
    public async Task ResendVerification_WithAForeignHost_MailsALinkToCmpItself()
    {
        var email = $"host-{Guid.NewGuid():N}@example.com";
        var anonymous = _api.Anonymous();
        var signup = await anonymous.PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "Host Test" });
        Assert.True(signup.IsSuccessStatusCode, await signup.Content.ReadAsStringAsync());
        var response = await anonymous.SendAsync(WithHost(HttpMethod.Post, "/api/auth/resend-verification/", new { email }, "evil.example"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        var mails = await Json.ReadArrayAsync(await (await _api.StaffAsync()).GetAsync($"/api/admin/emails/?to={email}"));
        Assert.NotEmpty(mails);
        Assert.All(mails, m => Assert.DoesNotContain("evil.example", m!["body"]!.GetValue<string>()));
        Assert.Contains("http://localhost/", mails[0]!["body"]!.GetValue<string>());
    }

    [Fact]
    public async Task LocationUrlAndEmbedCode_WithAForeignHost_AreCmpsOwn()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var created = await world.Buyer.Client.SendAsync(WithHost(HttpMethod.Post, "/api/projects/", new { customer = world.Customer, name = "Elsewhere" }, "evil.example"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.StartsWith("http://localhost/api/projects/", created.Headers.Location!.ToString());
        var body = await created.Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil.example", body);

        var embed = await world.Buyer.Client.SendAsync(WithHost(HttpMethod.Get, $"/api/customer-agent-configs/{world.Config}/widget_embed/", null, "evil.example"));
        var text = await embed.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, embed.StatusCode);
        Assert.DoesNotContain("evil.example", text);
        Assert.Contains("http://localhost/widget/loader.js", text);
    }

    private sealed class Configured(params (string Key, string Value)[] settings) : CmpFactory
    {
        protected override IReadOnlyDictionary<string, string?> Settings => settings.ToDictionary(s => s.Key, s => (string?)s.Value);
    }

    [Fact]
    public async Task PublicUrl_IsTheBaseOfLinks_WhateverTheHost()
    {
        await using var configured = new Configured(("Cmp:PublicUrl", "https://cmp.example.com/"));
        await configured.InitializeAsync();
        var api = new Api(configured);
        var user = await api.NewUserAsync();
        var customer = await api.NewCustomerAsync(user);
        var created = await user.Client.SendAsync(WithHost(HttpMethod.Post, "/api/projects/", new { customer, name = "Site" }, "evil.example"));
        Assert.StartsWith("https://cmp.example.com/api/projects/", created.Headers.Location!.ToString());
    }

    [Theory]
    [InlineData("urls", "http://0.0.0.0:5123")]
    [InlineData("urls", "http://127.0.0.1:5123;http://[::]:5124")]
    [InlineData("http_ports", "8080")]
    [InlineData("Kestrel:Endpoints:Web:Url", "http://cmp.internal:80")]
    public async Task ListeningBeyondLoopback_WithoutPublicUrl_DoesNotStart_AndSaysWhy(string key, string value)
    {
        await using var reachable = new Configured((key, value));
        await reachable.InitializeAsync();
        var error = Assert.ThrowsAny<Exception>(() => reachable.CreateClient());
        Assert.Contains("Cmp__PublicUrl", error.ToString());
    }

    [Theory]
    [InlineData("urls", "http://localhost:5123;http://127.0.0.1:5124;http://[::1]:5125")]
    public async Task ListeningOnLoopbackOnly_NeedsNoSetting(string key, string value)
    {
        await using var local = new Configured((key, value));
        await local.InitializeAsync();
        Assert.Equal(HttpStatusCode.OK, (await local.CreateClient().GetAsync("/api/configuration/")).StatusCode);
    }

    [Fact]
    public async Task ListeningBeyondLoopback_WithPublicUrl_Starts()
    {
        var pfx = KeyRingTests.CreatePfx(); // beyond loopback the key ring must be encrypted too
        await using var reachable = new Configured(("urls", "http://0.0.0.0:5123"), ("Cmp:PublicUrl", "https://cmp.example.com"),
            ("DataProtection:CertificatePath", pfx), ("DataProtection:CertificatePassword", KeyRingTests.Password));
        await reachable.InitializeAsync();
        Assert.Equal(HttpStatusCode.OK, (await reachable.CreateClient().GetAsync("/api/configuration/")).StatusCode);
        File.Delete(pfx);
    }

    [Theory]
    [InlineData("cmp.example.com")]
    [InlineData("ftp://cmp.example.com")]
    [InlineData("https://cmp.example.com/?x=1")]
    public async Task MalformedPublicUrl_DoesNotStart(string value)
    {
        await using var bad = new Configured(("Cmp:PublicUrl", value));
        await bad.InitializeAsync();
        var error = Assert.ThrowsAny<Exception>(() => bad.CreateClient());
        Assert.Contains("Cmp__PublicUrl", error.ToString());
    }

    [Fact]
    public async Task AllowedHosts_IsHonoured()
    {
        await using var strict = new Configured(("AllowedHosts", "cmp.example.com"), ("Cmp:PublicUrl", "https://cmp.example.com"));
        await strict.InitializeAsync();
        var client = strict.CreateClient();
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(WithHost(HttpMethod.Get, "/api/configuration/", null, "evil.example"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(WithHost(HttpMethod.Get, "/api/configuration/", null, "cmp.example.com"))).StatusCode);
    }
}
