using System.Text.Json.Nodes;
using Cmp.Flows.Runtime;
using Cmp.Flows.Tests.Peers;
using Cmp.Flows.Tests.Samples;

namespace Cmp.Flows.Tests.Runtime;

/// <summary>
/// <c>live</c> mode against an OpenAI-compatible server on loopback (the real API cannot be reached here):
/// keys from the seller's variables, streaming, the agent's tool loop, cancellation and the time budget.
/// </summary>
public sealed class LiveRunTests : IAsyncLifetime
{
    private OpenAiCompatibleServer _server = null!;
    private FlowRuntime _runtime = null!;

    public async Task InitializeAsync()
    {
        _server = await OpenAiCompatibleServer.StartAsync();
        _server.ExpectedApiKey = "sk-seller-key";
        _runtime = new FlowRuntime(new FlowRuntimeOptions { LlmMode = "live", OpenAiBaseUrl = _server.BaseUrl });
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static readonly DictionarySecretProvider Secrets = new(new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-seller-key" });

    [Fact]
    public async Task BasicPrompting_Live_SendsPromptAsSystem_KeyFromVariable_AndStreams()
    {
        var graph = Corpus.Graph("1.7", "Basic Prompting");
        _server.Enqueue(ScriptedReply.Text("Hello from the model, streamed in pieces."));
        var chunks = new List<string>();
        FlowRunResult? result = null;
        await foreach (var e in _runtime.RunStreamingAsync(graph, new FlowRunRequest { Input = "Hi there", Secrets = Secrets }))
        {
            if (e is FlowTokenEvent t)
            {
                chunks.Add(t.Text);
            }
            else if (e is FlowCompletedEvent done)
            {
                result = done.Result;
            }
        }
        Assert.Equal("Hello from the model, streamed in pieces.", result!.Output);
        Assert.True(chunks.Count > 1);
        Assert.Equal(result.Output, string.Concat(chunks));

        var request = Assert.Single(_server.Requests);
        Assert.True(request.Stream);
        Assert.Equal("Bearer sk-seller-key", request.Authorization);
        Assert.Equal("gpt-4o-mini", request.Model);
        Assert.Equal("system", request.Messages[0].Role);
        Assert.Contains("GenAI expert", request.Messages[0].Content);
        Assert.Equal("Hi there", request.Messages[^1].Content);
        Assert.True(result.Usage.InputTokens > 0);
    }

    [Fact]
    public async Task Live_MissingKeyVariable_IsAClearRefusal_AndNothingIsSent()
    {
        var graph = Corpus.Graph("1.7", "Basic Prompting");
        var ex = await Assert.ThrowsAsync<FlowRunException>(() => _runtime.RunAsync(graph, new FlowRunRequest { Input = "Hi" }));
        Assert.Contains("OPENAI_API_KEY", ex.Message);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task Live_WrongKey_IsARunErrorNamingTheNode()
    {
        var graph = Corpus.Graph("1.7", "Basic Prompting");
        var wrong = new DictionarySecretProvider(new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-wrong" });
        var ex = await Assert.ThrowsAsync<FlowRunException>(() => _runtime.RunAsync(graph, new FlowRunRequest { Input = "Hi", Secrets = wrong }));
        Assert.Equal("LanguageModelComponent", ex.Component);
        Assert.Contains("401", ex.Message);
    }

    [Fact]
    public async Task SimpleAgent_CallsTheCalculatorTool_AndUsesItsResult()
    {
        var graph = Corpus.Graph("1.7", "Simple Agent");
        _server.Enqueue(ScriptedReply.ToolCalls(("evaluate_expression", "{\"expression\": \"2+3*4\"}")));
        _server.Enqueue(ScriptedReply.Text("The result is 14."));
        var result = await _runtime.RunAsync(graph, new FlowRunRequest { Input = "What is 2+3*4?", Secrets = Secrets });
        Assert.Equal("The result is 14.", result.Output);

        Assert.Equal(2, _server.Requests.Count);
        var first = _server.Requests[0];
        Assert.Contains("evaluate_expression", first.Tools);
        Assert.Contains("fetch_content", first.Tools);
        Assert.Contains("get_current_date", first.Tools);
        var toolMessage = Assert.Single(_server.Requests[1].Messages, m => m.Role == "tool");
        Assert.Equal("\"14\"", toolMessage.Content); // the function result, JSON-encoded as Microsoft.Extensions.AI sends it
    }

    [Fact]
    public async Task Agent_MaxIterations_BoundsTheToolLoop()
    {
        var flow = Corpus.Json("1.7", "Simple Agent");
        Corpus.Field(Corpus.Node(flow, "Agent"), "max_iterations")["value"] = 2;
        var graph = Corpus.Graph(flow.ToJsonString());
        for (var i = 0; i < 10; i++)
        {
            _server.Enqueue(ScriptedReply.ToolCalls(("evaluate_expression", "{\"expression\": \"1+1\"}")));
        }
        await _runtime.RunAsync(graph, new FlowRunRequest { Input = "Loop forever", Secrets = Secrets });
        // Two tool rounds, then the loop stops asking for more: never the ten the server would give.
        Assert.InRange(_server.Requests.Count, 2, 3);
        Assert.InRange(_server.Requests.Count(r => r.Messages.Any(m => m.Role == "tool")), 1, 2);
    }

    [Fact]
    public async Task Agent_ToolWithBadInput_ReturnsTheErrorToTheModel_NotAnException()
    {
        var graph = Corpus.Graph("1.8", "Simple Agent");
        _server.Enqueue(ScriptedReply.ToolCalls(("evaluate_expression", "{\"expression\": \"__import__('os')\"}")));
        _server.Enqueue(ScriptedReply.Text("I cannot compute that."));
        var result = await _runtime.RunAsync(graph, new FlowRunRequest { Input = "Hack", Secrets = Secrets });
        Assert.Equal("I cannot compute that.", result.Output);
        var tool = Assert.Single(_server.Requests[1].Messages, m => m.Role == "tool");
        Assert.Contains("Unsupported", tool.Content);
    }

    [Fact]
    public async Task Cancellation_StopsAStreamingRun()
    {
        var graph = Corpus.Graph("1.7", "Basic Prompting");
        _server.ChunkDelay = TimeSpan.FromMilliseconds(150);
        _server.Enqueue(ScriptedReply.Text(string.Join(' ', Enumerable.Repeat("word", 100))));
        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in _runtime.RunStreamingAsync(graph, new FlowRunRequest { Input = "Go", Secrets = Secrets }, cts.Token))
            {
                if (e is FlowTokenEvent && ++seen == 2)
                {
                    await cts.CancelAsync();
                }
            }
        });
        Assert.InRange(seen, 2, 10);
    }

    [Fact]
    public async Task TimeBudget_StopsARunThatTakesTooLong_WithAClearError()
    {
        var graph = Corpus.Graph("1.7", "Basic Prompting");
        _server.ChunkDelay = TimeSpan.FromMilliseconds(200);
        _server.Enqueue(ScriptedReply.Text(string.Join(' ', Enumerable.Repeat("slow", 50))));
        // Streamed, so the server's per-chunk delay makes the run slow.
        var ex = await Assert.ThrowsAsync<FlowRunException>(async () =>
        {
            await foreach (var _ in _runtime.RunStreamingAsync(graph, new FlowRunRequest { Input = "Go", Secrets = Secrets, TimeBudget = TimeSpan.FromMilliseconds(500) }))
            {
            }
        });
        Assert.Contains("time budget", ex.Message);
    }

    [Fact]
    public async Task OllamaProvider_MapsToItsOpenAiCompatibleEndpoint_ThroughTheGuard()
    {
        var flow = Corpus.Json("1.7", "Basic Prompting");
        var model = Corpus.Node(flow, "LanguageModelComponent");
        Corpus.Field(model, "provider")["value"] = "Ollama";
        Corpus.Field(model, "model_name")["value"] = "llama3.2";
        model["data"]!["node"]!["template"]!["ollama_base_url"] = new JsonObject { ["type"] = "str", ["value"] = _server.BaseUrl[..^3], ["show"] = true };
        var graph = Corpus.Graph(flow.ToJsonString());
        _server.ExpectedApiKey = null;

        // A flow-supplied base URL on loopback is refused by the SSRF guard...
        var guarded = new FlowRuntime(new FlowRuntimeOptions { LlmMode = "live" });
        var refused = await Assert.ThrowsAsync<FlowRunException>(() => guarded.RunAsync(graph, new FlowRunRequest { Input = "Hi" }));
        Assert.Contains("loopback", refused.Message);
        Assert.Empty(_server.Requests);

        // ...and reached where private networks are allowed (a local Ollama in development).
        var open = new FlowRuntime(new FlowRuntimeOptions { LlmMode = "live", AllowPrivateNetworks = true });
        _server.Enqueue(ScriptedReply.Text("Hello from llama."));
        var result = await open.RunAsync(graph, new FlowRunRequest { Input = "Hi" });
        Assert.Equal("Hello from llama.", result.Output);
        Assert.Equal("llama3.2", Assert.Single(_server.Requests).Model);
    }
}
