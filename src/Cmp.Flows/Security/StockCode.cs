using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Cmp.Flows.Checks;
using Cmp.Flows.Graph;

namespace Cmp.Flows.Security;

/// <summary>
/// The Python code Langflow itself ships for each component, per Langflow release CMP knows: the only code CMP
/// accepts in an export and the only code it sends to a remote Langflow. A node whose <c>template.code</c> is not,
/// byte for byte, one of its component's stock versions (of any known release) is refused at import, whatever
/// Langflow's <c>edited</c> flag says; before a flow is sent to Langflow every node's code field is rewritten from
/// this catalog, so the bytes Langflow builds components from never come from the seller.
/// </summary>
/// <remarks>
/// The catalog is <c>stock-code.json</c>, embedded in this assembly and generated from the real exports in
/// <c>../shared/langflow-samples/&lt;release&gt;/</c> by <c>flows stock-code</c> (<see cref="StockCodeGenerator"/>); a
/// test fails when it is not what the generator makes from the samples. An export does not say reliably which
/// Langflow wrote it (the 1.7 starter projects carry <c>last_tested_version</c> 1.4.3 to 1.6.4, and each node's
/// <c>lf_version</c> is where that node was first made), so the release is read from the code itself: see
/// <see cref="ReleaseOf"/>.
/// </remarks>
public static class StockCode
{
    internal const string ResourceName = "Cmp.Flows.stock-code.json";

    private static readonly Lazy<Catalog> Loaded = new(() => Catalog.Load(ReadResource()));

    /// <summary>The Langflow releases CMP knows stock code for, oldest first.</summary>
    public static IReadOnlyList<string> Releases => Loaded.Value.Releases;

    /// <summary>The component types CMP knows stock code for.</summary>
    public static IReadOnlyCollection<string> Components => [.. Loaded.Value.Entries.Keys];

    /// <summary>Why the node's code cannot be accepted, or null when it is stock code of its component.</summary>
    public static string? Problem(FlowNode node)
    {
        var catalog = Loaded.Value;
        if (!catalog.Entries.TryGetValue(node.Component, out var entries))
        {
            return $"CMP does not know Langflow's own code for {node.Component}, so it cannot tell this node's code from custom code.";
        }
        if (node.CodeSha256 is null)
        {
            return catalog.Codeless.Contains(node.Component)
                ? null
                : $"The node carries no component code, and Langflow's exports of {node.Component} always do.";
        }
        return entries.Any(e => e.Sha256 == node.CodeSha256)
            ? null
            : $"The component's code is not Langflow's own code for {node.Component} in any release CMP knows ({string.Join(", ", catalog.Releases)}): "
              + "CMP never runs or forwards custom code. Use the component as Langflow ships it.";
    }

    /// <summary>The releases whose stock code for <paramref name="component"/> has this SHA-256.</summary>
    public static IReadOnlyList<string> ReleasesOf(string component, string? codeSha256) =>
        Loaded.Value.Entries.TryGetValue(component, out var entries)
            ? entries.Where(e => e.Sha256 == codeSha256).Select(e => e.Release).Distinct().ToList()
            : [];

    /// <summary>
    /// The Langflow release an export was made with, read from its code: the known release whose stock code the
    /// most of its nodes carry (a node's code often belongs to several), the newest of those on a tie, and the
    /// newest known release when no node carries stock code.
    /// </summary>
    public static string ReleaseOf(FlowGraph graph)
    {
        var releases = Loaded.Value.Releases;
        var votes = releases.ToDictionary(r => r, _ => 0, StringComparer.Ordinal);
        foreach (var node in graph.Nodes.Values)
        {
            foreach (var release in ReleasesOf(node.Component, node.CodeSha256))
            {
                votes[release]++;
            }
        }
        // Releases are oldest first, so the last of the best is the newest on a tie.
        return releases.Last(r => votes[r] == votes.Values.Max());
    }

    /// <summary>
    /// The stock code to send for a node: the stock text with the node's SHA-256 when there is one; else the
    /// component's stock code in <paramref name="release"/>; else in the newest release that has the component.
    /// Null when CMP knows no stock code for the component.
    /// </summary>
    public static string? CodeFor(string component, string? codeSha256, string release)
    {
        var catalog = Loaded.Value;
        if (!catalog.Entries.TryGetValue(component, out var entries) || entries.Count == 0)
        {
            return null;
        }
        // Entries run oldest release first, the most used code first within a release.
        var entry = entries.FirstOrDefault(e => e.Sha256 == codeSha256)
            ?? entries.FirstOrDefault(e => e.Release == release)
            ?? entries.First(e => e.Release == entries[^1].Release);
        return catalog.Code[entry.Sha256];
    }

    /// <summary>An export rewritten for Langflow: its <c>data</c> (nodes and edges), or the problems that stopped it.</summary>
    public sealed record LangflowData(JsonObject? Data, string? Release, IReadOnlyList<FlowProblem> Problems);

    /// <summary>
    /// The export's <c>data</c> as CMP sends it to Langflow: exactly the nodes the parser read into the graph
    /// (notes, refused and duplicate nodes are left out), each with its code field replaced by the catalog's
    /// (<see cref="CodeFor"/>, for the export's <see cref="ReleaseOf"/>) and any nested flow removed, and the edges.
    /// Nothing the seller wrote in a code field survives.
    /// </summary>
    public static LangflowData ForLangflow(string exportJson)
    {
        var parsed = FlowParser.Parse(exportJson, out var root);
        if (parsed.Graph is not { } graph || root is null)
        {
            return new LangflowData(null, null, parsed.Problems);
        }
        var catalog = Loaded.Value;
        var release = ReleaseOf(graph);
        var source = (JsonArray)FlowParser.Data(root)["nodes"]!;
        var nodes = new JsonArray();
        var problems = new List<FlowProblem>();
        foreach (var node in graph.Nodes.Values.OrderBy(n => n.Order))
        {
            var copy = source[node.Index]!.DeepClone().AsObject();
            var definition = copy["data"]!["node"]!.AsObject();
            definition.Remove("flow");
            if (definition["template"] is not JsonObject template)
            {
                definition["template"] = template = [];
            }
            if (CodeFor(node.Component, node.CodeSha256, release) is { } code)
            {
                var field = JsonNode.Parse(catalog.CodeField)!.AsObject();
                field["value"] = code;
                template["code"] = field;
            }
            else if (node.CodeSha256 is null && catalog.Codeless.Contains(node.Component))
            {
                template.Remove("code");
            }
            else
            {
                problems.Add(new FlowProblem(node.Id, node.Component, $"CMP has no stock code for {node.Component} to send to Langflow."));
            }
            nodes.Add(copy);
        }
        if (problems.Count > 0)
        {
            return new LangflowData(null, release, problems);
        }
        var data = new JsonObject
        {
            ["nodes"] = nodes,
            ["edges"] = FlowParser.Data(root)["edges"]!.DeepClone(),
        };
        return new LangflowData(data, release, []);
    }

    private static string ReadResource()
    {
        using var stream = typeof(StockCode).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from Cmp.Flows.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    internal sealed record Entry(string Release, string Sha256, int Nodes);

    /// <summary>The catalog as read from <c>stock-code.json</c>; every text is checked against its SHA-256 on load.</summary>
    internal sealed class Catalog
    {
        public required IReadOnlyList<string> Releases { get; init; }
        /// <summary>By component: one entry per release and distinct code, oldest release first, the most used code first within one.</summary>
        public required IReadOnlyDictionary<string, IReadOnlyList<Entry>> Entries { get; init; }
        public required IReadOnlyDictionary<string, string> Code { get; init; }
        public required IReadOnlySet<string> Codeless { get; init; }
        /// <summary>The code field's properties other than its value, as Langflow exports them (JSON text: parsed per use, never shared).</summary>
        public required string CodeField { get; init; }

        public static Catalog Load(string json)
        {
            var root = JsonNode.Parse(json)!.AsObject();
            var code = root["code"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>(), StringComparer.Ordinal);
            foreach (var (sha, text) in code)
            {
                if (Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text))) != sha)
                {
                    throw new InvalidDataException($"{ResourceName}: the code stored under {sha} does not have that SHA-256.");
                }
            }
            var entries = root["components"]!.AsObject().ToDictionary(
                p => p.Key,
                p => (IReadOnlyList<Entry>)p.Value!.AsArray()
                    .Select(e => new Entry(e!["release"]!.GetValue<string>(), e["sha256"]!.GetValue<string>(), e["nodes"]!.GetValue<int>()))
                    .ToList(),
                StringComparer.Ordinal);
            var missing = entries.Values.SelectMany(e => e).FirstOrDefault(e => !code.ContainsKey(e.Sha256));
            if (missing is not null)
            {
                throw new InvalidDataException($"{ResourceName}: no code is stored for {missing.Sha256}.");
            }
            return new Catalog
            {
                Releases = root["releases"]!.AsArray().Select(r => r!.GetValue<string>()).ToList(),
                Entries = entries,
                Code = code,
                Codeless = root["codeless"]!.AsArray().Select(c => c!.GetValue<string>()).ToHashSet(StringComparer.Ordinal),
                CodeField = root["code_field"]!.AsObject().ToJsonString(),
            };
        }
    }
}
