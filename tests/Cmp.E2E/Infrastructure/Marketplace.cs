using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Cmp.E2E.Infrastructure;

/// <summary>
/// Provisions what the widget needs over the public HTTP API, as a seller and a buyer would: a published agent
/// (with an unlimited plan and a plan capped at one call), a buyer organization with a project, and per test an
/// order whose agent config and publishable key the widget uses.
/// </summary>
public sealed partial class Marketplace(string baseUrl)
{
    public const string Password = "Correct-Horse-42-Battery";

    private string? _staffToken;
    private HttpClient? _buyer;
    private string _project = "";

    public string Offering { get; private set; } = "";
    public string Plan { get; private set; } = "";
    public string CappedPlan { get; private set; } = "";

    public HttpClient Anonymous() => new() { BaseAddress = new Uri(baseUrl) };

    private HttpClient As(string token)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        return client;
    }

    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return string.IsNullOrEmpty(body) ? [] : JsonNode.Parse(body)!.AsObject();
    }

    private async Task<string> LoginAsync(string email, string password)
    {
        var session = await ReadAsync(await Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = email, password }), HttpStatusCode.OK);
        return session["token"]!.GetValue<string>();
    }

    private async Task<HttpClient> StaffAsync() => As(_staffToken ??= await LoginAsync(CmpServer.StaffEmail, CmpServer.StaffPassword));

    [GeneratedRegex("token=([A-Za-z0-9_-]+)")]
    private static partial Regex TokenInLink();

    private async Task<(HttpClient Client, string Uuid)> NewUserAsync()
    {
        var email = $"user-{Guid.NewGuid():N}@example.com";
        var created = await ReadAsync(await Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Password, full_name = "E2E User" }), HttpStatusCode.Created);
        if (!created["email_verified"]!.GetValue<bool>())
        {
            var staff = await StaffAsync();
            var mails = JsonNode.Parse(await staff.GetStringAsync($"/api/admin/emails/?to={Uri.EscapeDataString(email)}"))!.AsArray();
            var token = TokenInLink().Match(mails[0]!["body"]!.GetValue<string>()).Groups[1].Value;
            await ReadAsync(await Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token }), HttpStatusCode.OK);
        }
        return (As(await LoginAsync(email, Password)), created["uuid"]!.GetValue<string>());
    }

    private async Task<string> NewCustomerAsync(string owner, string name)
    {
        var staff = await StaffAsync();
        var customer = (await ReadAsync(await staff.PostAsJsonAsync("/api/customers/", new { name }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        await ReadAsync(await staff.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = owner, role = "owner" }), HttpStatusCode.Created);
        return customer;
    }

    private static string SamplesRoot()
    {
        if (Environment.GetEnvironmentVariable("CMP_SAMPLES_DIR") is { Length: > 0 } configured)
        {
            return configured;
        }
        return Path.GetFullPath(Path.Combine(RepositoryRoot(), "..", "shared", "langflow-samples"));
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cmp.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Cmp.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A seller publishes a chatbot; a buyer organization gets a project to order it into.</summary>
    public async Task SetUpAsync()
    {
        var (seller, sellerUuid) = await NewUserAsync();
        var sellerCustomer = await NewCustomerAsync(sellerUuid, "Seller " + Guid.NewGuid().ToString("N")[..6]);
        var provider = (await ReadAsync(await seller.PostAsJsonAsync("/api/marketplace-service-providers/", new { customer = sellerCustomer }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var agent = (await ReadAsync(await seller.PostAsJsonAsync("/api/provider-agents/",
            new { service_provider = provider, name = "Shop helper", description = "Answers shoppers' questions", category = "Assistants" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var flow = await File.ReadAllTextAsync(Path.Combine(SamplesRoot(), "1.7", "Memory Chatbot.json"));
        await ReadAsync(await seller.PostAsync($"/api/provider-agents/{agent}/import_flow/", new StringContent(flow, Encoding.UTF8, "application/json")), HttpStatusCode.Created);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await ReadAsync(await seller.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK))["runtime_state"]!.GetValue<string>() == "DEPLOYING"
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Plan = (await ReadAsync(await seller.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", new
        {
            name = "Pay as you go",
            currency = "EUR",
            components = new[] { new { billing_type = "USAGE", name = "Per call", measured_unit = "invocation", price = "0.01" } },
        }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        Offering = (await ReadAsync(await seller.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.OK))["offering_uuid"]!.GetValue<string>();
        CappedPlan = (await ReadAsync(await seller.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", new
        {
            name = "Trial",
            currency = "EUR",
            components = new object[]
            {
                new { billing_type = "FIXED", name = "Monthly", price = 0 },
                new { billing_type = "LIMIT", name = "Included", measured_unit = "invocation", price = 0, limit_amount = 1 },
            },
        }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();

        var (buyer, buyerUuid) = await NewUserAsync();
        var customer = await NewCustomerAsync(buyerUuid, "Acme Outdoor " + Guid.NewGuid().ToString("N")[..6]);
        _project = (await ReadAsync(await buyer.PostAsJsonAsync("/api/projects/", new { customer, name = "Website" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        _buyer = buyer;
    }

    public sealed record Widget(string Id, string Key);

    /// <summary>Orders the agent, sets the config's look and allowed domains, and creates a publishable key.</summary>
    public async Task<Widget> NewWidgetAsync(object look, bool capped = false)
    {
        var buyer = _buyer ?? throw new InvalidOperationException("SetUpAsync first.");
        var order = await ReadAsync(await buyer.PostAsJsonAsync("/api/marketplace-orders/", new { offering = Offering, plan = capped ? CappedPlan : Plan, project = _project }), HttpStatusCode.Created);
        Assert.Equal("DONE", order["state"]!.GetValue<string>());
        var resource = await ReadAsync(await buyer.GetAsync($"/api/marketplace-resources/{order["resource_uuid"]!.GetValue<string>()}/"), HttpStatusCode.OK);
        var config = resource["config_uuid"]!.GetValue<string>();
        await ReadAsync(await buyer.PatchAsJsonAsync($"/api/customer-agent-configs/{config}/", look), HttpStatusCode.OK);
        var key = await ReadAsync(await buyer.PostAsJsonAsync($"/api/customer-agent-configs/{config}/api_keys/", new { name = "website", kind = "publishable" }), HttpStatusCode.Created);
        return new Widget(config, key["key"]!.GetValue<string>());
    }

    public async Task UpdateAsync(Widget widget, object look) =>
        await ReadAsync(await _buyer!.PatchAsJsonAsync($"/api/customer-agent-configs/{widget.Id}/", look), HttpStatusCode.OK);
}
