using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Security;

/// <summary>Control characters are refused in text fields; every answer carries the security headers.</summary>
public sealed class InputAndHeadersTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [Theory]
    [InlineData("Bad\u0000Name")]
    [InlineData("Esc\u001b[31mape")]
    [InlineData("Back\bspace")]
    [InlineData("C1\u0085control")]
    [InlineData("Del\u007f")]
    public async Task AgentName_WithAControlCharacter_IsRefused_AndNothingChanges(string name)
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var before = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/"), HttpStatusCode.OK);
        var problem = await Json.ProblemAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { agent_name = name }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("Control characters", problem["errors"]!["agent_name"]![0]!.GetValue<string>());
        var after = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/"), HttpStatusCode.OK);
        Assert.Equal(before["agent_name"]!.GetValue<string>(), after["agent_name"]!.GetValue<string>());
    }

    [Fact]
    public async Task MultilineText_WithTabsAndNewlines_IsAccepted()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var updated = await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/",
            new { greeting = "Hello!\r\nHow can I help?", system_prompt = "Rules:\n\t1. Be kind.\n\t2. Be brief." }), HttpStatusCode.OK);
        Assert.Equal("Rules:\n\t1. Be kind.\n\t2. Be brief.", updated["system_prompt"]!.GetValue<string>());
    }

    [Fact]
    public async Task NestedField_WithAControlCharacter_IsNamedInTheProblem()
    {
        var (seller, agent, _, _) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var problem = await Json.ProblemAsync(await seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", new
        {
            name = "Plan",
            currency = "EUR",
            components = new[] { new { billing_type = "FIXED", name = "Fee\u0007", price = "1.00" } },
        }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.True(problem["errors"]!.AsObject().ContainsKey("components[0].name"), problem.ToJsonString());
    }

    [Fact]
    public async Task ApiAnswers_AreNotSniffedNorStored()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.Buyer.Client.PostAsJsonAsync($"/api/customer-agent-configs/{world.Config}/api_keys/", new { name = "server", kind = "secret" });
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        Assert.True(key.Headers.CacheControl?.NoStore);
        Assert.Equal("nosniff", Assert.Single(key.Headers.GetValues("X-Content-Type-Options")));
        var login = await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = CmpFactory.StaffEmail, password = CmpFactory.StaffPassword });
        Assert.True(login.Headers.CacheControl?.NoStore);
        var problem = await _api.Anonymous().GetAsync("/api/customers/");
        Assert.True(problem.Headers.CacheControl?.NoStore);
        Assert.Equal("nosniff", Assert.Single(problem.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task Pages_MayNotBeFramedByOtherSites()
    {
        var page = await _api.Anonymous().GetAsync("/login");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("frame-ancestors 'self'", Assert.Single(page.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("SAMEORIGIN", Assert.Single(page.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("nosniff", Assert.Single(page.Headers.GetValues("X-Content-Type-Options")));
        var loader = await _api.Anonymous().GetAsync("/widget/loader.js");
        Assert.Equal("nosniff", Assert.Single(loader.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task RealKestrel_SendsNoServerHeader()
    {
        await using var kestrel = new CmpFactory();
        await kestrel.InitializeAsync();
        kestrel.UseKestrel(0);
        kestrel.StartServer();
        using var client = kestrel.CreateClient();
        Assert.StartsWith("http://127.0.0.1:", client.BaseAddress!.ToString().Replace("localhost", "127.0.0.1"));
        var response = await client.GetAsync("/api/configuration/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Server"), string.Join(", ", response.Headers.Select(h => h.Key)));
    }
}
