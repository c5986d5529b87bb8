using System.Text.Json.Nodes;
using Cmp.Flows.Checks;

namespace Cmp.Flows.Tests.Samples;

public sealed class SampleCheckTests
{
    private static readonly string[] Runnable17And18 =
    [
        "Basic Prompt Chaining", "Basic Prompting", "Blog Writer", "Custom Component Generator", "Document Q&A",
        "Financial Report Parser", "Image Sentiment Analysis", "Memory Chatbot", "Portfolio Website Code Generator",
        "SEO Keyword Generator", "SaaS Pricing", "Simple Agent", "Text Sentiment Analysis", "Twitter Thread Generator",
    ];

    public static TheoryData<string, string[]> Expected => new()
    {
        { "1.0", ["Basic Prompting (Hello, World)", "Blog Writer", "Document QA", "Memory Chatbot"] },
        { "1.7", Runnable17And18 },
        { "1.8", Runnable17And18 },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void EverySample_IsCheckedAsExpected_AndEveryRefusalNamesRealNodes(string version, string[] runnable)
    {
        var files = Directory.GetFiles(Path.Combine(Corpus.Root, version), "*.json").OrderBy(f => f, StringComparer.Ordinal).ToList();
        var actuallyRunnable = new List<string>();
        foreach (var file in files)
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var json = File.ReadAllText(file);
            var report = FlowChecker.Check(json);
            if (report.Runnable)
            {
                actuallyRunnable.Add(name);
                continue;
            }
            Assert.NotEmpty(report.Problems);
            // Each problem names a node that is really in the file, with that node's component.
            var nodes = JsonNode.Parse(json)!["data"]!["nodes"]!.AsArray().OfType<JsonObject>()
                .ToDictionary(n => n["id"]!.GetValue<string>(), n => n["data"]?["type"]?.GetValue<string>());
            foreach (var problem in report.Problems)
            {
                Assert.NotNull(problem.NodeId);
                Assert.True(nodes.ContainsKey(problem.NodeId!), $"{name}: {problem.NodeId} is not a node of the file");
                Assert.Equal(nodes[problem.NodeId!], problem.Component);
                Assert.False(string.IsNullOrWhiteSpace(problem.Message));
            }
        }
        Assert.Equal(runnable.OrderBy(n => n, StringComparer.Ordinal), actuallyRunnable);
    }

    [Fact]
    public void Parser_ReadsEdgesFromHandles_AndDropsNotes()
    {
        var graph = Corpus.Graph("1.7", "Memory Chatbot");
        Assert.DoesNotContain(graph.Nodes.Values, n => n.Component == "note");
        var memoryEdge = Assert.Single(graph.Edges, e => graph.Nodes[e.Source].Component == "Memory");
        Assert.Equal("Prompt", graph.Nodes[memoryEdge.Target].Component);
        Assert.Contains("Message", memoryEdge.OutputTypes);
        Assert.False(string.IsNullOrEmpty(memoryEdge.TargetField));
        var model = graph.Nodes.Values.Single(n => n.Component == "LanguageModelComponent");
        Assert.True(model.Field("api_key")!.LoadFromDb);
        Assert.Equal("OPENAI_API_KEY", model.Field("api_key")!.Value!.GetValue<string>());
    }
}
