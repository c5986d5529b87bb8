using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cmp.Web.Tests.Infrastructure;
using Cmp.Web.Tests.Seller;

namespace Cmp.Web.Tests.Buyer;

/// <summary>A published agent, and a buyer organization with a project and a completed order for it.</summary>
internal sealed record BuyerWorld(Api.Seller Seller, string Agent, string Offering, string Plan, Api.User Buyer, string Customer, string Project, string Order, string Resource, string Config)
{
    public static async Task<(Api.Seller Seller, string Agent, string Offering, string Plan)> PublishAsync(
        Api api, string sample = "Memory Chatbot", object? plan = null, bool requiresProviderApproval = false)
    {
        var seller = await api.NewSellerAsync("Seller " + Guid.NewGuid().ToString("N")[..6]);
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller, "Helpful " + Guid.NewGuid().ToString("N")[..6]);
        if (requiresProviderApproval)
        {
            await Json.ReadAsync(await client.PatchAsJsonAsync($"/api/provider-agents/{agent}/", new { requires_provider_approval = true }), HttpStatusCode.OK);
        }
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", sample)), HttpStatusCode.Created);
        await Api.WaitForRuntimeAsync(client, agent);
        var created = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", plan ?? new
        {
            name = "Pay as you go",
            currency = "EUR",
            components = new[] { new { billing_type = "USAGE", name = "Per call", measured_unit = "invocation", price = "0.01" } },
        }), HttpStatusCode.Created);
        var published = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.OK);
        return (seller, agent, published["offering_uuid"]!.GetValue<string>(), created["uuid"]!.GetValue<string>());
    }

    public static async Task<(Api.User Buyer, string Customer, string Project)> NewBuyerAsync(Api api)
    {
        var buyer = await api.NewUserAsync();
        var customer = await api.NewCustomerAsync(buyer, "Buyer " + Guid.NewGuid().ToString("N")[..6]);
        var project = (await Json.ReadAsync(await buyer.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "Website" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        return (buyer, customer, project);
    }

    public static async Task<BuyerWorld> CreateAsync(Api api, string sample = "Memory Chatbot", object? plan = null)
    {
        var (seller, agent, offering, planUuid) = await PublishAsync(api, sample, plan);
        var (buyer, customer, project) = await NewBuyerAsync(api);
        var order = await Json.ReadAsync(await buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan = planUuid, project }), HttpStatusCode.Created);
        Assert.Equal("DONE", order["state"]!.GetValue<string>());
        var resource = order["resource_uuid"]!.GetValue<string>();
        var resourceDto = await Json.ReadAsync(await buyer.Client.GetAsync($"/api/marketplace-resources/{resource}/"), HttpStatusCode.OK);
        return new BuyerWorld(seller, agent, offering, planUuid, buyer, customer, project, order["uuid"]!.GetValue<string>(), resource, resourceDto["config_uuid"]!.GetValue<string>());
    }

    public async Task<string> KeyAsync(string kind = "secret", string name = "server")
    {
        var key = await Json.ReadAsync(await Buyer.Client.PostAsJsonAsync($"/api/customer-agent-configs/{Config}/api_keys/", new { name, kind }), HttpStatusCode.Created);
        return key["key"]!.GetValue<string>();
    }

    public static HttpRequestMessage Invoke(string key, object body, string? idempotencyKey = null, bool xApiKey = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(body) };
        if (xApiKey)
        {
            request.Headers.Add("X-API-Key", key);
        }
        else
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return request;
    }

    public static async Task<JsonObject> AskAsync(HttpClient client, string key, string input, string? session = null) =>
        await Json.ReadAsync(await client.SendAsync(Invoke(key, new { input, session_id = session })), HttpStatusCode.OK);
}
