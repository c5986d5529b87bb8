using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Seller;

/// <summary>Real samples from ../shared/langflow-samples.</summary>
internal static class Samples
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("CMP_SAMPLES_DIR") is { Length: > 0 } configured)
        {
            return configured;
        }
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cmp.slnx")))
        {
            dir = dir.Parent;
        }
        return Path.GetFullPath(Path.Combine(dir!.FullName, "..", "shared", "langflow-samples"));
    }

    public static string Text(string version, string name) => File.ReadAllText(Path.Combine(Root, version, name + ".json"));

    public static StringContent Body(string version, string name) => new(Text(version, name), Encoding.UTF8, "application/json");

    public static string NodeId(string version, string name, string component) =>
        JsonNode.Parse(Text(version, name))!["data"]!["nodes"]!.AsArray().OfType<JsonObject>()
            .First(n => n["data"]?["type"]?.GetValue<string>() == component)["id"]!.GetValue<string>();
}

public sealed class SellerJourneyTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private static async Task<JsonObject> ImportAsync(HttpClient client, string agent, string version, string name)
    {
        var imported = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body(version, name)), HttpStatusCode.Created);
        Assert.Equal("DEPLOYING", imported["agent"]!["runtime_state"]!.GetValue<string>());
        return imported;
    }

    private static object OnePlan => new
    {
        name = "Standard",
        currency = "EUR",
        components = new object[]
        {
            new { billing_type = "FIXED", name = "Monthly fee", price = 49.90m },
            new { billing_type = "USAGE", name = "Per call", measured_unit = "invocation", price = "0.002" },
            new { billing_type = "ONE_TIME", name = "Setup", price = 100 },
            new { billing_type = "LIMIT", name = "Included calls", measured_unit = "invocation", price = 0, limit_amount = 1000 },
        },
    };

    [Fact]
    public async Task BasicPrompting_FromImportToCatalog()
    {
        var seller = await _api.NewSellerAsync("Prompt Works");
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller, "Pirate helper");
        var draft = await Json.ReadAsync(await client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK);
        Assert.Equal("DRAFT", draft["state"]!.GetValue<string>());
        Assert.Equal("NOT_DEPLOYED", draft["runtime_state"]!.GetValue<string>());
        Assert.Null(draft["flow_version"]);

        // Publishing too early names everything that is missing.
        var early = await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.Conflict, ProblemTypes.PublishRequirements);
        Assert.Contains("READY runtime", early["detail"]!.GetValue<string>());
        Assert.Contains("at least one plan", early["detail"]!.GetValue<string>());

        var imported = await ImportAsync(client, agent, "1.7", "Basic Prompting");
        Assert.Equal(1, imported["flow_version"]!["number"]!.GetValue<int>());
        Assert.Matches("^[0-9a-f]{64}$", imported["flow_version"]!["sha256"]!.GetValue<string>());
        Assert.Contains("LanguageModelComponent", imported["summary"]!["components"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal("OPENAI_API_KEY", imported["summary"]!["variables"]![0]!.GetValue<string>());

        var ready = await Api.WaitForRuntimeAsync(client, agent);
        Assert.Equal("READY", ready["runtime_state"]!.GetValue<string>());

        var answer = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Ahoy?" }), HttpStatusCode.OK);
        Assert.StartsWith("[dev] Ahoy?", answer["output"]!.GetValue<string>());
        Assert.True(answer["usage"]!["input_tokens"]!.GetValue<long>() > 0);

        var stillNoPlan = await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.Conflict, ProblemTypes.PublishRequirements);
        Assert.DoesNotContain("READY", stillNoPlan["detail"]!.GetValue<string>());

        var plan = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", OnePlan), HttpStatusCode.Created);
        Assert.Equal("49.9", plan["components"]![0]!["price"]!.GetValue<string>());
        Assert.Equal("0.002", plan["components"]![1]!["price"]!.GetValue<string>());
        Assert.Equal(1000, plan["components"]![3]!["limit_amount"]!.GetValue<long>());

        var published = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.OK);
        Assert.Equal("ACTIVE", published["state"]!.GetValue<string>());
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);

        // The public catalog shows it, without signing in, and never the flow, prompts or secrets.
        var catalog = await _api.Anonymous().GetAsync("/api/marketplace-public-offerings/?search=pirate");
        var body = await catalog.Content.ReadAsStringAsync();
        var offerings = JsonNode.Parse(body)!.AsArray();
        var offering = Assert.Single(offerings)!;
        Assert.Equal(published["offering_uuid"]!.GetValue<string>(), offering["uuid"]!.GetValue<string>());
        Assert.Equal("Prompt Works", offering["provider"]!["name"]!.GetValue<string>());
        Assert.Equal("Assistants", offering["category"]!.GetValue<string>());
        Assert.Single(offering["plans"]!.AsArray());
        Assert.DoesNotContain("GenAI expert", body);
        Assert.DoesNotContain("OPENAI_API_KEY", body);
        Assert.DoesNotContain("template", body);
        await Json.ReadAsync(await _api.Anonymous().GetAsync($"/api/marketplace-public-offerings/{offering["uuid"]}/"), HttpStatusCode.OK);

        var paused = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/pause/", null), HttpStatusCode.OK);
        Assert.Equal("PAUSED", paused["state"]!.GetValue<string>());
        Assert.Empty(await Json.ReadArrayAsync(await _api.Anonymous().GetAsync("/api/marketplace-public-offerings/?search=pirate")));
        await Json.ProblemAsync(await _api.Anonymous().GetAsync($"/api/marketplace-public-offerings/{offering["uuid"]}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/pause/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.OK);
        var archived = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/archive/", null), HttpStatusCode.OK);
        Assert.Equal("ARCHIVED", archived["state"]!.GetValue<string>());
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        await Json.ProblemAsync(await client.DeleteAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
    }

    [Fact]
    public async Task MemoryChatbot_TestChatRemembersTheSession_AndNewVersionsKeepTheOld()
    {
        var seller = await _api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller, "Chatty");
        // Multipart upload works as well as a JSON body.
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(Samples.Text("1.8", "Memory Chatbot")));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        form.Add(file, "file", "Memory Chatbot.json");
        var v1 = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", form), HttpStatusCode.Created);
        Assert.Equal("READY", (await Api.WaitForRuntimeAsync(client, agent))["runtime_state"]!.GetValue<string>());

        var first = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "My name is Ada." }), HttpStatusCode.OK);
        var session = first["session_id"]!.GetValue<string>();
        var second = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Who am I?", session_id = session }), HttpStatusCode.OK);
        Assert.True(second["output"]!.GetValue<string>().Contains("My name is Ada.", StringComparison.Ordinal), second.ToJsonString());
        var fresh = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Who am I?" }), HttpStatusCode.OK);
        Assert.DoesNotContain("My name is Ada.", fresh["output"]!.GetValue<string>());

        var v2 = await ImportAsync(client, agent, "1.7", "Memory Chatbot");
        Assert.Equal(2, v2["flow_version"]!["number"]!.GetValue<int>());
        var agentId = Guid.ParseExact(agent, "N");
        var versions = await factory.WithDbAsync(db => db.FlowVersions.Where(v => v.AgentId == agentId).OrderBy(v => v.Number).ToListAsync());
        Assert.Equal([1, 2], versions.Select(v => v.Number));
        Assert.Equal(v1["flow_version"]!["sha256"]!.GetValue<string>(), versions[0].Sha256);
        Assert.Equal(Samples.Text("1.8", "Memory Chatbot"), versions[0].Json); // the first version is kept exactly as imported
        Assert.Equal(versions[1].Id, await factory.WithDbAsync(db => db.ProviderAgents.Where(a => a.Id == agentId).Select(a => a.CurrentFlowVersionId).SingleAsync()));
    }

    [Fact]
    public async Task AgentWithTools_Deploys_AndAnswersWithTheDevModel()
    {
        var seller = await _api.NewSellerAsync();
        var agent = await Api.NewAgentAsync(seller, "Calculator agent", "Agents");
        await ImportAsync(seller.Owner.Client, agent, "1.7", "Simple Agent");
        Assert.Equal("READY", (await Api.WaitForRuntimeAsync(seller.Owner.Client, agent))["runtime_state"]!.GetValue<string>());
        var answer = await Json.ReadAsync(await seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "2+2?" }), HttpStatusCode.OK);
        Assert.StartsWith("[dev] 2+2?\n[system] ", answer["output"]!.GetValue<string>());
    }

    [Fact]
    public async Task BadFlows_Are400ListingEveryProblem_AndStoreNothing()
    {
        var seller = await _api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        var unsupported = await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Research Agent")),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidFlow);
        var problem = Assert.Single(unsupported["problems"]!.AsArray())!;
        Assert.Equal(Samples.NodeId("1.7", "Research Agent", "TavilySearchComponent"), problem["node_id"]!.GetValue<string>());
        Assert.Equal("TavilySearchComponent", problem["component"]!.GetValue<string>());

        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Json.Raw("{\"not\": \"a flow\"")), HttpStatusCode.BadRequest, ProblemTypes.InvalidFlow);
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Json.Raw("")), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        var several = await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/validate_flow/", Samples.Body("1.7", "Vector Store RAG")),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidFlow);
        Assert.Equal(4, several["problems"]!.AsArray().Count);
        var valid = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/validate_flow/", Samples.Body("1.0", "Document QA")), HttpStatusCode.OK);
        Assert.True(valid["runnable"]!.GetValue<bool>());
        Assert.Single(valid["summary"]!["file_nodes"]!.AsArray());

        var agentId = Guid.ParseExact(agent, "N");
        Assert.False(await factory.WithDbAsync(db => db.FlowVersions.AnyAsync(v => v.AgentId == agentId)));
        var unchanged = await Json.ReadAsync(await client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK);
        Assert.Equal("NOT_DEPLOYED", unchanged["runtime_state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Files_ForFileNodes_AreKeptWithTheVersion_AndReachTheRun()
    {
        var seller = await _api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller, "Handbook QA");
        await ImportAsync(client, agent, "1.7", "Document Q&A");
        await Api.WaitForRuntimeAsync(client, agent);
        var fileNode = Samples.NodeId("1.7", "Document Q&A", "File");

        var missing = await Json.ProblemAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Holidays?" }),
            (HttpStatusCode)422, ProblemTypes.RunFailed);
        Assert.Equal(fileNode, missing["node_id"]!.GetValue<string>());

        static MultipartFormDataContent Upload(string nodeId, string name, byte[] content)
        {
            var form = new MultipartFormDataContent { { new StringContent(nodeId), "node_id" } };
            form.Add(new ByteArrayContent(content), "file", name);
            return form;
        }
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/files/", Upload("ChatInput-nope", "a.md", "# A"u8.ToArray())), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/files/", Upload(fileNode, "a.exe", "MZ"u8.ToArray())), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/files/", Upload(fileNode, "fake.pdf", "not a pdf"u8.ToArray())), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await client.PostAsync($"/api/provider-agents/{agent}/files/", Upload(fileNode, "big.txt", new byte[10 * 1024 * 1024 + 1])), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        var uploaded = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/files/",
            Upload(fileNode, "handbook.md", Encoding.UTF8.GetBytes("# Handbook\nEveryone gets 30 days of holiday."))), HttpStatusCode.Created);
        Assert.Equal(1, uploaded["flow_version"]!.GetValue<int>());
        var answer = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Holidays?" }), HttpStatusCode.OK);
        Assert.Contains("Everyone gets 30 days of holiday.", answer["output"]!.GetValue<string>());

        // A new version keeps the file for the same File node.
        await ImportAsync(client, agent, "1.7", "Document Q&A");
        await Api.WaitForRuntimeAsync(client, agent);
        var files = await Json.ReadArrayAsync(await client.GetAsync($"/api/provider-agents/{agent}/files/"));
        Assert.Equal([2, 1], files.Select(f => f!["flow_version"]!.GetValue<int>()));
        var again = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Holidays?" }), HttpStatusCode.OK);
        Assert.Contains("Everyone gets 30 days of holiday.", again["output"]!.GetValue<string>());
    }

    [Fact]
    public async Task Secrets_AreWriteOnly_EncryptedAtRest_AndNeverLogged()
    {
        const string secret = "sk-live-4f1c9e7b2a6d4c8e9f0a1b2c3d4e5f60";
        var seller = await _api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        await ImportAsync(client, agent, "1.7", "Basic Prompting");
        var before = await Json.ReadAsync(await client.GetAsync($"/api/provider-agents/{agent}/secrets/"), HttpStatusCode.OK);
        Assert.Equal(["OPENAI_API_KEY"], before["missing"]!.AsArray().Select(n => n!.GetValue<string>()));

        var response = await client.PutAsJsonAsync($"/api/provider-agents/{agent}/secrets/", new Dictionary<string, string> { ["OPENAI_API_KEY"] = secret });
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(secret, text);
        var after = JsonNode.Parse(text)!;
        Assert.Equal(["OPENAI_API_KEY"], after["set"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Empty(after["missing"]!.AsArray());
        Assert.DoesNotContain(secret, await (await client.GetAsync($"/api/provider-agents/{agent}/")).Content.ReadAsStringAsync());
        Assert.DoesNotContain(secret, await (await client.GetAsync($"/api/provider-agents/{agent}/secrets/")).Content.ReadAsStringAsync());

        var stored = await factory.WithDbAsync(db => db.AgentSecrets.Select(s => s.Protected).ToListAsync());
        Assert.All(stored, s => Assert.DoesNotContain(secret, s));
        Assert.Equal("READY", (await Api.WaitForRuntimeAsync(client, agent))["runtime_state"]!.GetValue<string>());
        await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Hi" }), HttpStatusCode.OK);
        Assert.NotEmpty(factory.Logs);
        Assert.DoesNotContain(factory.Logs, line => line.Contains(secret, StringComparison.Ordinal));

        var bad = await Json.ProblemAsync(await client.PutAsJsonAsync($"/api/provider-agents/{agent}/secrets/", new Dictionary<string, object?> { ["1BAD"] = "x", ["EMPTY"] = "" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(bad["errors"]!["1BAD"]);
        Assert.NotNull(bad["errors"]!["EMPTY"]);
        await Json.ReadAsync(await client.PutAsJsonAsync($"/api/provider-agents/{agent}/secrets/", new Dictionary<string, object?> { ["OPENAI_API_KEY"] = null }), HttpStatusCode.OK);
        Assert.False(await factory.WithDbAsync(db => db.AgentSecrets.AnyAsync()));
    }

    [Fact]
    public async Task Plans_RefuseBadMoney_AndArchivingKeepsThePlan()
    {
        var seller = await _api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        var url = $"/api/provider-agents/{agent}/plans/";
        async Task Refused(object plan, string field)
        {
            var problem = await Json.ProblemAsync(await client.PostAsJsonAsync(url, plan), HttpStatusCode.BadRequest, ProblemTypes.Validation);
            Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"{field} in {problem["errors"]}");
        }
        await Refused(new { name = "P", currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "x", price = -1 } } }, "components[0].price");
        await Refused(new { name = "P", currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "x", price = 1.0000001m } } }, "components[0].price");
        await Refused(new { name = "P", currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "x", price = "ten" } } }, "components[0].price");
        await Refused(new { name = "P", currency = "EUR", components = new[] { new { billing_type = "LIMIT", name = "x", price = 5 } } }, "components[0].limit_amount");
        await Refused(new { name = "P", currency = "EUR", components = new[] { new { billing_type = "USAGE", name = "x", price = 5 } } }, "components[0].measured_unit");
        await Refused(new { name = "P", currency = "EUR", components = new[] { new { billing_type = "BARTER", name = "x", price = 5 } } }, "components[0].billing_type");
        await Refused(new { name = "P", currency = "euro", components = new[] { new { billing_type = "FIXED", name = "x", price = 5 } } }, "currency");
        await Refused(new { name = "P", currency = "EUR", components = Array.Empty<object>() }, "components");
        Assert.Empty(await Json.ReadArrayAsync(await client.GetAsync(url)));

        var plan = await Json.ReadAsync(await client.PostAsJsonAsync(url, OnePlan), HttpStatusCode.Created);
        var uuid = plan["uuid"]!.GetValue<string>();
        var archived = await Json.ReadAsync(await client.PostAsync($"{url}{uuid}/archive/", null), HttpStatusCode.OK);
        Assert.True(archived["archived"]!.GetValue<bool>());
        await Json.ProblemAsync(await client.PostAsync($"{url}{uuid}/archive/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Single(await Json.ReadArrayAsync(await client.GetAsync(url))); // kept for the buyers already on it
        var stored = await factory.WithDbAsync(db => db.PlanComponents.Where(c => c.Name == "Per call").Select(c => c.Price).FirstAsync());
        Assert.Equal(0.002m, stored);
    }

    [Fact]
    public async Task Access_OutsiderIs404_MemberWithoutOwnership403_StaffAllowed()
    {
        var seller = await _api.NewSellerAsync();
        var agent = await Api.NewAgentAsync(seller);
        var outsider = await _api.NewUserAsync();
        var support = await _api.NewUserAsync();
        await Json.ReadAsync(await seller.Owner.Client.PostAsJsonAsync($"/api/customers/{seller.Customer}/add_user/", new { user = support.Uuid, role = "support" }), HttpStatusCode.Created);

        await Json.ProblemAsync(await _api.Anonymous().GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await Json.ProblemAsync(await outsider.Client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await outsider.Client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        Assert.Empty(await Json.ReadArrayAsync(await outsider.Client.GetAsync("/api/provider-agents/")));
        await Json.ReadAsync(await support.Client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK);
        await Json.ProblemAsync(await support.Client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await support.Client.PatchAsJsonAsync($"/api/provider-agents/{agent}/", new { name = "Mine" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await support.Client.GetAsync($"/api/provider-agents/{agent}/secrets/"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await support.Client.PostAsJsonAsync("/api/provider-agents/", new { service_provider = seller.Provider, name = "X", category = "Apps" }),
            HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await outsider.Client.PostAsJsonAsync("/api/provider-agents/", new { service_provider = seller.Provider, name = "X", category = "Apps" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        var staff = await _api.StaffAsync();
        await Json.ReadAsync(await staff.PatchAsJsonAsync($"/api/provider-agents/{agent}/", new { description = "Edited by staff" }), HttpStatusCode.OK);
        await Json.ProblemAsync(await seller.Owner.Client.PatchAsJsonAsync($"/api/provider-agents/{agent}/", new { category = "Robots" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Equal(HttpStatusCode.NoContent, (await seller.Owner.Client.DeleteAsync($"/api/provider-agents/{agent}/")).StatusCode);
        await Json.ProblemAsync(await seller.Owner.Client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Providers_RegistrationRules()
    {
        var owner = await _api.NewUserAsync();
        var manager = await _api.NewUserAsync();
        var outsider = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner, "Provider Co");
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = manager.Uuid, role = "manager" }), HttpStatusCode.Created);
        await Json.ProblemAsync(await manager.Client.PostAsJsonAsync("/api/marketplace-service-providers/", new { customer }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await outsider.Client.PostAsJsonAsync("/api/marketplace-service-providers/", new { customer }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        var provider = await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/marketplace-service-providers/", new { customer }), HttpStatusCode.Created);
        Assert.Equal("active", provider["state"]!.GetValue<string>());
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/marketplace-service-providers/", new { customer }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        await Json.ProblemAsync(await outsider.Client.GetAsync($"/api/marketplace-service-providers/{provider["uuid"]}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await (await _api.StaffAsync()).PostAsync($"/api/marketplace-service-providers/{provider["uuid"]}/approve/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
    }

    [Fact]
    public async Task Catalog_FiltersAndRefusals()
    {
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api/marketplace-public-offerings/?category=Robots"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api/marketplace-public-offerings/?provider_uuid=x"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api/marketplace-public-offerings/?o=secret"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await _api.Anonymous().GetAsync($"/api/marketplace-public-offerings/{Guid.NewGuid():N}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        var response = await _api.Anonymous().GetAsync("/api/marketplace-public-offerings/?category=Automations&page_size=5");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(response.Headers.GetValues("X-Result-Count").Single());
    }
}
