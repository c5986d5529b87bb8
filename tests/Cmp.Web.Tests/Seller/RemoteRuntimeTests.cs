using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Cmp.Web.Tests.Peers;

namespace Cmp.Web.Tests.Seller;

public sealed class LangflowFactory : CmpFactory
{
    public LangflowPeer Langflow { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        Langflow = await LangflowPeer.StartAsync();
        await base.InitializeAsync();
    }

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["LANGFLOW_URL"] = Langflow.Url,
        ["LANGFLOW_API_KEY"] = LangflowPeer.ApiKey,
    };

    public override async Task DisposeAsyncCore()
    {
        await base.DisposeAsyncCore();
        await Langflow.DisposeAsync();
    }
}

public sealed class RemoteRuntimeTests(LangflowFactory factory) : IClassFixture<LangflowFactory>
{
    [Fact]
    public async Task RemoteLangflow_CreatesTheFlow_RunsItWithTheSessionAndSecrets()
    {
        var api = new Api(factory);
        var seller = await api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        await Json.ReadAsync(await client.PutAsJsonAsync($"/api/provider-agents/{agent}/secrets/", new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-remote-1" }), HttpStatusCode.OK);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Created);
        var ready = await Api.WaitForRuntimeAsync(client, agent);
        Assert.Equal("READY", ready["runtime_state"]!.GetValue<string>());
        var flow = factory.Langflow.Flows.Values.Single(f => f["name"]!.GetValue<string>().StartsWith($"cmp-{agent}-", StringComparison.Ordinal));
        Assert.NotEmpty(flow["data"]!["nodes"]!.AsArray());

        var first = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Hello", session_id = "buyer-session-1" }), HttpStatusCode.OK);
        Assert.Equal("langflow: Hello (turn 1)", first["output"]!.GetValue<string>());
        var second = await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/test_invoke/", new { input = "Again", session_id = "buyer-session-1" }), HttpStatusCode.OK);
        Assert.Equal("langflow: Again (turn 2)", second["output"]!.GetValue<string>());

        var run = factory.Langflow.Runs.Last();
        Assert.Equal("buyer-session-1", run.Body["session_id"]!.GetValue<string>());
        Assert.Equal("sk-remote-1", run.Headers["X-LANGFLOW-GLOBAL-VAR-OPENAI_API_KEY"]);
        // The seller's own test chat has no persona: no tweaks, the model gets the seller's prompt as written.
        Assert.Null(run.Body["tweaks"]);
        Assert.Equal(SellerPrompt, Assert.Single(run.SystemTexts).Value);
    }

    /// <summary>The Prompt's template in Basic Prompting (1.7), which feeds the model's system_message.</summary>
    private static string SellerPrompt =>
        JsonNode.Parse(Samples.Text("1.7", "Basic Prompting"))!["data"]!["nodes"]!.AsArray().OfType<JsonObject>()
            .Single(n => n["id"]!.GetValue<string>() == Samples.NodeId("1.7", "Basic Prompting", "Prompt"))["data"]!["node"]!["template"]!["template"]!["value"]!.GetValue<string>();

    [Fact]
    public async Task RemoteLangflow_TheBuyersPersona_ReachesTheModel_AsTweaksOfTheFlowsPrompt()
    {
        var world = await BuyerWorld.CreateAsync(new Api(factory), "Basic Prompting");
        const string BuyerPrompt = "Quote prices as {amount} EUR, and write }} or {{ as they are.";
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/",
            new { agent_name = "Ada", system_prompt = BuyerPrompt, tone = "formal" }), HttpStatusCode.OK);
        var key = await world.KeyAsync();

        var answer = await BuyerWorld.AskAsync(factory.CreateClient(), key, "Hello", "persona-session");
        Assert.Equal("langflow: Hello (turn 1)", answer["output"]!.GetValue<string>());

        var run = factory.Langflow.Runs.Last(r => r.Body["session_id"]?.GetValue<string>() == "persona-session");
        // The model's system_message is fed by the Prompt, so the tweak goes to the Prompt's template (a tweak of a
        // connected field would be ignored by Langflow, and the peer ignores it too).
        var tweaks = run.Body["tweaks"]!.AsObject();
        Assert.Equal(Samples.NodeId("1.7", "Basic Prompting", "Prompt"), Assert.Single(tweaks).Key);
        // What the model receives: the seller's prompt, then the persona with its braces as the buyer wrote them.
        Assert.Equal(SellerPrompt + "\n\nYou are Ada.\n" + BuyerPrompt + "\nAnswer in a formal tone.", Assert.Single(run.SystemTexts).Value);
    }
}

/// <summary>LANGFLOW_URL points at a port where nothing listens.</summary>
public sealed class UnreachableLangflowFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["LANGFLOW_URL"] = "http://127.0.0.1:1",
        ["LANGFLOW_API_KEY"] = LangflowPeer.ApiKey,
    };
}

public sealed class UnreachableRuntimeTests(UnreachableLangflowFactory factory) : IClassFixture<UnreachableLangflowFactory>
{
    [Fact]
    public async Task UnreachableRemoteRuntime_LeavesTheAgentFailedWithTheReason()
    {
        var api = new Api(factory);
        var seller = await api.NewSellerAsync();
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Created);
        var failed = await Api.WaitForRuntimeAsync(client, agent);
        Assert.Equal("FAILED", failed["runtime_state"]!.GetValue<string>());
        Assert.Contains("could not be reached", failed["runtime_error"]!.GetValue<string>());
        Assert.Equal("DRAFT", failed["state"]!.GetValue<string>());
        Assert.Equal(1, failed["flow_version"]!["number"]!.GetValue<int>());
    }
}
