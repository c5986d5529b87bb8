using System.Text;
using System.Text.Json.Nodes;
using Cmp.Flows.Runtime;
using Cmp.Flows.Tests.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cmp.Flows.Tests.Runtime;

/// <summary>Real samples run with the deterministic dev model, whose reply shows exactly what reached the model.</summary>
public sealed class DevRunTests
{
    private static readonly FlowRuntime Runtime = new(new FlowRuntimeOptions { LlmMode = "dev" });

    private static string Template(JsonObject flow, string? id = null) =>
        Corpus.Field(Corpus.Node(flow, "Prompt", id), "template")["value"]!.GetValue<string>();

    /// <summary>The template's literal text before its first variable.</summary>
    private static string Lead(string template) => (template.Contains('{') ? template[..template.IndexOf('{')] : template).Trim();

    private static Task<FlowRunResult> RunAsync(string json, string input, IConversationMemory? memory = null, IFlowFileProvider? files = null, string session = "s1") =>
        Runtime.RunAsync(Corpus.Graph(json), new FlowRunRequest
        {
            Input = input,
            SessionId = session,
            Memory = memory ?? new InMemoryConversationMemory(),
            Files = files ?? DictionaryFileProvider.Empty,
        });

    [Theory]
    [InlineData("1.0", "Basic Prompting (Hello, World)")]
    [InlineData("1.7", "Basic Prompting")]
    [InlineData("1.8", "Basic Prompting")]
    public async Task BasicPrompting_PromptAndInputReachTheModel(string version, string name)
    {
        var flow = Corpus.Json(version, name);
        var result = await RunAsync(flow.ToJsonString(), "What is a flow?");
        Assert.StartsWith("[dev] ", result.Output);
        Assert.Contains("What is a flow?", result.Output);
        Assert.Contains(Lead(Template(flow)), result.Output);
        Assert.True(result.Usage.InputTokens > 0 && result.Usage.OutputTokens > 0);
        Assert.Contains(result.Nodes, n => n.Component == "Prompt");
        Assert.Contains(result.Nodes, n => n.Component is "LanguageModelComponent" or "OpenAIModel");
    }

    [Theory]
    [InlineData("1.0")]
    [InlineData("1.7")]
    [InlineData("1.8")]
    public async Task MemoryChatbot_SecondTurnSeesTheFirst_InItsOwnSessionOnly(string version)
    {
        var json = Corpus.Text(version, "Memory Chatbot");
        var memory = new InMemoryConversationMemory();
        var first = await RunAsync(json, "My name is Ada.", memory);
        Assert.Single(first.Output.Split("My name is Ada.").Skip(1)); // only this turn's input, no history yet
        await memory.AppendAsync("s1", first.NewMessages, CancellationToken.None);

        // "My name is Ada." can only reach the model through memory now.
        var second = await RunAsync(json, "What is my name?", memory);
        Assert.StartsWith("[dev] ", second.Output);
        Assert.Contains("What is my name?", second.Output);
        Assert.Contains("My name is Ada.", second.Output);

        var otherSession = await RunAsync(json, "What is my name?", memory, session: "s2");
        Assert.DoesNotContain("My name is Ada.", otherSession.Output);
    }

    [Fact]
    public async Task DocumentQa_FileTextReachesTheModel_AndAMissingFileIsRefused()
    {
        var flow = Corpus.Json("1.7", "Document Q&A");
        var fileNode = Corpus.Id(flow, "File");
        var files = new DictionaryFileProvider(new Dictionary<string, IReadOnlyList<FlowFile>>
        {
            [fileNode] = [new FlowFile("handbook.md", Encoding.UTF8.GetBytes("# Handbook\nHolidays are 30 days a year."))],
        });
        var result = await RunAsync(flow.ToJsonString(), "How many holidays?", files: files);
        Assert.Contains("Holidays are 30 days a year.", result.Output);
        Assert.Contains("How many holidays?", result.Output);

        var refused = await Assert.ThrowsAsync<FlowRunException>(() => RunAsync(flow.ToJsonString(), "How many holidays?"));
        Assert.Equal(fileNode, refused.NodeId);
        Assert.Contains("--file", refused.Message);
    }

    [Fact]
    public async Task TextSentimentAnalysis_NoChatInput_RunsOnItsFile_AndAnswersEveryOutput()
    {
        var flow = Corpus.Json("1.7", "Text Sentiment Analysis");
        var files = new DictionaryFileProvider(new Dictionary<string, IReadOnlyList<FlowFile>>
        {
            [Corpus.Id(flow, "File")] = [new FlowFile("review.txt", Encoding.UTF8.GetBytes("The product broke after one day."))],
        });
        var result = await RunAsync(flow.ToJsonString(), "", files: files);
        Assert.Contains("The product broke after one day.", result.Output);
        Assert.Equal(2, result.Output.Split("[dev]").Length - 1 >= 2 ? 2 : 0);
        Assert.Single(result.NewMessages); // no chat input: only the answer is a turn
    }

    [Fact]
    public async Task FinancialReportParser_StructuredOutputFeedsTheParser()
    {
        var result = await RunAsync(Corpus.Text("1.7", "Financial Report Parser"), "EBITDA was 5M, net income 2M.");
        Assert.Contains("EBITDA", result.Output);
        Assert.Contains("[dev] EBITDA was 5M, net income 2M.", result.Output);
        Assert.Contains(result.Nodes, n => n.Component == "StructuredOutput");
    }

    [Fact]
    public async Task FinancialReportParser18_UsesTheDefaultModelWhenTheExportHasNone()
    {
        var result = await RunAsync(Corpus.Text("1.8", "Financial Report Parser"), "Gross profit 9M.");
        Assert.Contains("[dev] Gross profit 9M.", result.Output);
    }

    [Fact]
    public async Task TwitterThreadGenerator_TextInputsFillThePrompt()
    {
        var flow = Corpus.Json("1.7", "Twitter Thread Generator");
        var textInputs = flow["data"]!["nodes"]!.AsArray().OfType<JsonObject>()
            .Where(n => n["data"]?["type"]?.GetValue<string>() == "TextInput")
            .Select(n => Corpus.Field(n, "input_value")["value"]!.GetValue<string>()).Where(v => v.Length > 0).ToList();
        Assert.NotEmpty(textInputs);
        var result = await RunAsync(flow.ToJsonString(), "Launch of CMP");
        Assert.Contains("Launch of CMP", result.Output);
        foreach (var value in textInputs)
        {
            Assert.Contains(value, result.Output);
        }
    }

    [Fact]
    public async Task SeoKeywordGenerator_WithoutAnyInput_AnswersFromItsPrompts()
    {
        var flow = Corpus.Json("1.7", "SEO Keyword Generator");
        var result = await RunAsync(flow.ToJsonString(), "ignored");
        Assert.StartsWith("[dev] ", result.Output);
        Assert.DoesNotContain("ignored", result.Output);
    }

    [Theory]
    [InlineData("1.7")]
    [InlineData("1.8")]
    public async Task SimpleAgent_SystemPromptAndInputReachTheModel(string version)
    {
        var flow = Corpus.Json(version, "Simple Agent");
        var system = Corpus.Field(Corpus.Node(flow, "Agent"), "system_prompt")["value"]!.GetValue<string>();
        var result = await RunAsync(flow.ToJsonString(), "What is 2+2?");
        Assert.Equal("[dev] What is 2+2?\n[system] " + system, result.Output);
    }

    [Fact]
    public async Task PortfolioGenerator18_TextInputTakesTheMessage_WithTheFile()
    {
        var flow = Corpus.Json("1.8", "Portfolio Website Code Generator");
        var files = new DictionaryFileProvider(new Dictionary<string, IReadOnlyList<FlowFile>>
        {
            [Corpus.Id(flow, "File")] = [new FlowFile("cv.txt", Encoding.UTF8.GetBytes("Ada Lovelace, analyst of engines."))],
        });
        var result = await RunAsync(flow.ToJsonString(), "Make it purple", files: files);
        Assert.Contains("Ada Lovelace, analyst of engines.", result.Output);
    }

    [Fact]
    public async Task RenamedIdsAndChangedPrompt_GiveTheChangedAnswer()
    {
        var text = Corpus.Text("1.7", "Basic Prompting");
        var flow = Corpus.Json("1.7", "Basic Prompting");
        foreach (var id in flow["data"]!["nodes"]!.AsArray().OfType<JsonObject>().Select(n => n["id"]!.GetValue<string>()).ToList())
        {
            text = text.Replace(id, "Renamed" + id.Replace("-", "", StringComparison.Ordinal) + "-x1", StringComparison.Ordinal);
        }
        var renamed = JsonNode.Parse(text)!.AsObject();
        Corpus.Field(Corpus.Node(renamed, "Prompt"), "template")["value"] = "Reply like a lighthouse keeper.";
        var result = await RunAsync(renamed.ToJsonString(), "Any ships?");
        Assert.Contains("Reply like a lighthouse keeper.", result.Output);
        Assert.DoesNotContain(Lead(Template(flow)), result.Output);
        Assert.All(result.Nodes, n => Assert.StartsWith("Renamed", n.NodeId));
    }

    [Fact]
    public async Task Streaming_DevModelStreamsWordByWord_AndTheChunksMakeTheAnswer()
    {
        var graph = Corpus.Graph("1.7", "Basic Prompting");
        var chunks = new List<string>();
        FlowRunResult? result = null;
        await foreach (var e in Runtime.RunStreamingAsync(graph, new FlowRunRequest { Input = "one two three" }))
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
        Assert.True(chunks.Count > 3);
        Assert.Equal(result!.Output, string.Concat(chunks));
    }

    [Fact]
    public async Task SystemPreamble_JoinsTheSystemText_WithoutReplacingTheSellers()
    {
        var flow = Corpus.Json("1.7", "Simple Agent");
        var system = Corpus.Field(Corpus.Node(flow, "Agent"), "system_prompt")["value"]!.GetValue<string>();
        var result = await Runtime.RunAsync(Corpus.Graph(flow.ToJsonString()), new FlowRunRequest { Input = "Hi", SystemPreamble = "You are Acme's assistant. Tone: friendly." });
        Assert.Equal("[dev] Hi\n[system] " + system + "\n\nYou are Acme's assistant. Tone: friendly.", result.Output);
    }

    [Fact]
    public async Task BlogWriter_FetchesItsUrlThroughTheGuard_FromALoopbackPage()
    {
        await using var site = await LocalSite.StartAsync("<html><head><title>Docs</title><script>var x=1;</script></head><body><h1>Langflow docs</h1><p>Flows are graphs.</p></body></html>");
        var flow = Corpus.Json("1.7", "Blog Writer");
        Corpus.Field(Corpus.Node(flow, "URLComponent"), "urls")["value"] = new JsonArray(site.Url);
        var graph = Corpus.Graph(flow.ToJsonString());

        var open = new FlowRuntime(new FlowRuntimeOptions { AllowPrivateNetworks = true });
        var result = await open.RunAsync(graph, new FlowRunRequest { Input = "Write about flows" });
        Assert.Contains("Flows are graphs.", result.Output);
        Assert.DoesNotContain("var x=1", result.Output);

        // The default runtime refuses loopback: the page never reaches the model.
        var guarded = await Runtime.RunAsync(graph, new FlowRunRequest { Input = "Write about flows" });
        Assert.DoesNotContain("Flows are graphs.", guarded.Output);
        Assert.Equal(0, site.Hits - 1);
    }
}

/// <summary>A web page served on loopback for URL component tests.</summary>
internal sealed class LocalSite : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _hits;

    public string Url { get; }
    public int Hits => _hits;

    private LocalSite(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<LocalSite> StartAsync(string html)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        LocalSite? site = null;
        app.MapGet("/", (HttpContext ctx) =>
        {
            Interlocked.Increment(ref site!._hits);
            return Results.Content(html, "text/html; charset=utf-8");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        site = new LocalSite(app, address + "/");
        return site;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
