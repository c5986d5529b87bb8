using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Seller;

public sealed class ApprovalFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["SERVICE_PROVIDER_REQUIRES_APPROVAL"] = "true" };
}

public sealed class ProviderApprovalTests(ApprovalFactory factory) : IClassFixture<ApprovalFactory>
{
    [Fact]
    public async Task PendingProvider_CannotPublish_UntilStaffApprove()
    {
        var api = new Api(factory);
        var seller = await api.NewSellerAsync("Awaiting Ltd");
        var client = seller.Owner.Client;
        var provider = await Json.ReadAsync(await client.GetAsync($"/api/marketplace-service-providers/{seller.Provider}/"), HttpStatusCode.OK);
        Assert.Equal("pending", provider["state"]!.GetValue<string>());

        var agent = await Api.NewAgentAsync(seller);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Created);
        await Api.WaitForRuntimeAsync(client, agent);
        await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/",
            new { name = "Flat", currency = "USD", components = new[] { new { billing_type = "FIXED", name = "Monthly", price = 10 } } }), HttpStatusCode.Created);

        var refused = await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.Conflict, ProblemTypes.ProviderPending);
        Assert.Contains("pending staff approval", refused["detail"]!.GetValue<string>());
        await Json.ProblemAsync(await client.PostAsync($"/api/marketplace-service-providers/{seller.Provider}/approve/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);

        var staff = await api.StaffAsync();
        var pending = await Json.ReadArrayAsync(await staff.GetAsync("/api/marketplace-service-providers/?state=pending"));
        Assert.Contains(pending, p => p!["uuid"]!.GetValue<string>() == seller.Provider);
        var approved = await Json.ReadAsync(await staff.PostAsync($"/api/marketplace-service-providers/{seller.Provider}/approve/", null), HttpStatusCode.OK);
        Assert.Equal("active", approved["state"]!.GetValue<string>());
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.OK);
    }

    [Fact]
    public async Task ConcurrentPublish_OneWins_TheOtherIs409()
    {
        var api = new Api(factory);
        var seller = await api.NewSellerAsync("Racer");
        var staff = await api.StaffAsync();
        await Json.ReadAsync(await staff.PostAsync($"/api/marketplace-service-providers/{seller.Provider}/approve/", null), HttpStatusCode.OK);
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.8", "Basic Prompting")), HttpStatusCode.Created);
        await Api.WaitForRuntimeAsync(client, agent);
        await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/",
            new { name = "Flat", currency = "USD", components = new[] { new { billing_type = "FIXED", name = "Monthly", price = 10 } } }), HttpStatusCode.Created);

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => client.PostAsync($"/api/provider-agents/{agent}/publish/", null)));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], results.Select(r => r.StatusCode).Order());
    }
}

/// <summary>Live models: a missing model key leaves the agent FAILED naming the variable; setting it redeploys.</summary>
public sealed class LiveModeFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["CMP_LLM"] = "live" };
}

public sealed class LiveDeploymentTests(LiveModeFactory factory) : IClassFixture<LiveModeFactory>
{
    [Fact]
    public async Task MissingModelKey_Fails_ThenTheSecretRedeploysToReady()
    {
        var api = new Api(factory);
        var seller = await api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Memory Chatbot")), HttpStatusCode.Created);
        var failed = await Api.WaitForRuntimeAsync(client, agent);
        Assert.Equal("FAILED", failed["runtime_state"]!.GetValue<string>());
        Assert.Contains("OPENAI_API_KEY", failed["runtime_error"]!.GetValue<string>());
        await Json.ProblemAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Hi" }), HttpStatusCode.Conflict, ProblemTypes.RuntimeNotReady);

        var set = await Json.ReadAsync(await client.PutAsJsonAsync($"/api/provider-agents/{agent}/secrets/", new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-test-123456" }), HttpStatusCode.OK);
        Assert.Empty(set["missing"]!.AsArray());
        var ready = await Api.WaitForRuntimeAsync(client, agent);
        Assert.Equal("READY", ready["runtime_state"]!.GetValue<string>());
        Assert.Null(ready["runtime_error"]);
    }
}
