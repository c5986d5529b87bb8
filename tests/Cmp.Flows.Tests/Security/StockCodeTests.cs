using System.Text.Json.Nodes;
using Cmp.Flows.Checks;
using Cmp.Flows.Components;
using Cmp.Flows.Graph;
using Cmp.Flows.Security;
using Cmp.Flows.Tests.Samples;

namespace Cmp.Flows.Tests.Security;

/// <summary>The stock code catalog CMP ships, and the export it sends to a remote Langflow.</summary>
public sealed class StockCodeTests
{
    private static string Shipped()
    {
        using var stream = typeof(StockCode).Assembly.GetManifestResourceStream(StockCode.ResourceName)!;
        return new StreamReader(stream).ReadToEnd();
    }

    private static IEnumerable<(string Release, string Name)> AllSamples() =>
        Directory.GetDirectories(Corpus.Root).Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.json").Order(StringComparer.Ordinal)
                .Select(f => (Path.GetFileName(d), Path.GetFileNameWithoutExtension(f))));

    private static string CodeOf(JsonObject node) => node["data"]!["node"]!["template"]!["code"]!["value"]!.GetValue<string>();

    [Fact]
    public void ShippedCatalog_IsWhatTheGeneratorMakesFromTheSamples()
    {
        // Regenerate with: dotnet run --project src/Cmp.Web -- flows stock-code ../shared/langflow-samples src/Cmp.Flows/Security/stock-code.json
        Assert.Equal(StockCodeGenerator.Generate(Corpus.Root), Shipped());
        Assert.Equal(["1.0", "1.7", "1.8"], StockCode.Releases);
    }

    [Fact]
    public void ShippedCatalog_WithATextThatIsNotItsHash_IsRefusedOnLoad()
    {
        var catalog = JsonNode.Parse(Shipped())!.AsObject();
        var first = catalog["code"]!.AsObject().First().Key;
        catalog["code"]![first] = "os.system('id')";
        var error = Assert.Throws<InvalidDataException>(() => StockCode.Catalog.Load(catalog.ToJsonString()));
        Assert.Contains(first, error.Message);
    }

    [Fact]
    public void Catalog_CoversEveryComponentTheRuntimeRuns_ExceptTextOutput_WhichNoSampleHas()
    {
        Assert.Equal(["TextOutput"], ComponentCatalog.Supported.Except(StockCode.Components).ToList());
    }

    [Fact]
    public void Catalog_LeavesOutCodeLangflowMarksEdited()
    {
        // Nvidia Remix's RemixDocumentation and 1.0 Vector Store RAG's Astra DB nodes are edited in the samples.
        Assert.DoesNotContain("RemixDocumentation", StockCode.Components);
        Assert.DoesNotContain("AstraVectorStoreComponent", StockCode.Components);
    }

    [Fact]
    public void EveryNodeOfEverySample_NotMarkedEdited_CarriesStockCode_AndItsReleaseIsAmongThoseTheCodeIsStockIn()
    {
        foreach (var (release, name) in AllSamples())
        {
            var graph = FlowParser.Parse(Corpus.Text(release, name)).Graph!;
            var json = Corpus.Json(release, name);
            foreach (var node in graph.Nodes.Values)
            {
                var edited = json["data"]!["nodes"]![node.Index]!["data"]!["node"]!["edited"]?.GetValue<bool>() ?? false;
                Assert.True(edited || StockCode.Problem(node) is null, $"{release}/{name} {node.Id}: {StockCode.Problem(node)}");
                Assert.True(edited || StockCode.ReleasesOf(node.Component, node.CodeSha256).Contains(release), $"{release}/{name} {node.Id}");
            }
            // The export's release read from its code: its folder, or one whose stock code all of its nodes carry as well.
            var read = StockCode.ReleaseOf(graph);
            Assert.True(read == release || graph.Nodes.Values.All(n => StockCode.ReleasesOf(n.Component, n.CodeSha256).Contains(read) == StockCode.ReleasesOf(n.Component, n.CodeSha256).Contains(release)),
                $"{release}/{name} is read as {read}");
        }
    }

    [Fact]
    public void ForLangflow_EveryRunnableSample_KeepsEveryComponentWithItsStockCodeByteForByte_AndNoNotes()
    {
        var runnable = 0;
        foreach (var (release, name) in AllSamples())
        {
            var text = Corpus.Text(release, name);
            if (!FlowChecker.Check(text).Runnable)
            {
                continue;
            }
            runnable++;
            var sent = StockCode.ForLangflow(text);
            Assert.Empty(sent.Problems);
            var original = Corpus.Json(release, name)["data"]!["nodes"]!.AsArray().OfType<JsonObject>()
                .Where(n => n["type"]!.GetValue<string>() != "noteNode").ToDictionary(n => n["id"]!.GetValue<string>(), CodeOf);
            var rewritten = sent.Data!["nodes"]!.AsArray().OfType<JsonObject>().ToDictionary(n => n["id"]!.GetValue<string>(), CodeOf);
            Assert.Equal(original, rewritten);
            Assert.Equal(Corpus.Json(release, name)["data"]!["edges"]!.ToJsonString(), sent.Data["edges"]!.ToJsonString());
        }
        Assert.Equal(32, runnable);
    }

    [Theory]
    [InlineData("1.7", "3bf0b511e2")]
    [InlineData("1.8", "42558628ed")]
    public void ForLangflow_CodeThatIsNotStock_IsReplacedByTheStockCodeOfTheExportsRelease(string release, string expected)
    {
        // Only a stored version from before the checker looked at code can get here: deploying re-checks first.
        var flow = Corpus.Json(release, "Basic Prompting");
        var prompt = Corpus.Node(flow, "Prompt");
        var field = Corpus.Field(prompt, "code");
        field["value"] = "os.system('id')";
        field["load_from_db"] = true;
        field["file_path"] = "/etc/passwd";

        var sent = StockCode.ForLangflow(flow.ToJsonString());

        Assert.Equal(release, sent.Release);
        var code = sent.Data!["nodes"]!.AsArray().OfType<JsonObject>().Single(n => n["id"]!.GetValue<string>() == prompt["id"]!.GetValue<string>())
            ["data"]!["node"]!["template"]!["code"]!.AsObject();
        Assert.StartsWith(expected, Sha(code["value"]!.GetValue<string>()), StringComparison.Ordinal);
        Assert.False(code["load_from_db"]!.GetValue<bool>());
        Assert.Equal("", code["file_path"]!.GetValue<string>());
        Assert.DoesNotContain("os.system", sent.Data.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ForLangflow_ANodeWithoutCodeOfAComponentCmpKnowsNoCodeFor_StopsWithAProblemNamingIt()
    {
        var flow = Corpus.Json("1.7", "Basic Prompting");
        var output = Corpus.Node(flow, "ChatOutput");
        output["data"]!["type"] = "TextOutput";
        var sent = StockCode.ForLangflow(flow.ToJsonString());
        Assert.Null(sent.Data);
        var problem = Assert.Single(sent.Problems);
        Assert.Equal((output["id"]!.GetValue<string>(), "TextOutput"), (problem.NodeId!, problem.Component!));
    }

    [Fact]
    public void ForLangflow_LeavesOutNotes_NodesThatCallThemselvesNotes_DuplicateIds_AndNestedFlows()
    {
        var flow = Corpus.Json("1.7", "Basic Prompting");
        var nodes = flow["data"]!["nodes"]!.AsArray();
        var prompt = Corpus.Node(flow, "Prompt");
        prompt["data"]!["node"]!["flow"] = new JsonObject { ["data"] = new JsonObject { ["nodes"] = new JsonArray(), ["edges"] = new JsonArray() } };
        var impostor = prompt.DeepClone().AsObject();
        Corpus.Field(impostor, "code")["value"] = "os.system('duplicate')";
        nodes.Add(impostor);
        var note = prompt.DeepClone().AsObject();
        note["id"] = "Prompt-note";
        note["data"]!["type"] = "note";
        Corpus.Field(note, "code")["value"] = "os.system('note')";
        nodes.Add(note);

        var sent = StockCode.ForLangflow(flow.ToJsonString());

        var ids = sent.Data!["nodes"]!.AsArray().Select(n => n!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(FlowParser.Parse(flow.ToJsonString()).Graph!.Nodes.Keys.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
        Assert.Equal(ids.Distinct().Count(), ids.Count);
        Assert.DoesNotContain("os.system", sent.Data.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(sent.Data["nodes"]!.AsArray(), n => n!["data"]!["node"]!["flow"] is not null);
    }

    private static string Sha(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}
