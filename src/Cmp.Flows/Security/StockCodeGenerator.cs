using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cmp.Flows.Graph;

namespace Cmp.Flows.Security;

/// <summary>
/// Makes <c>stock-code.json</c> (<see cref="StockCode"/>'s catalog) from a folder of real Langflow exports laid out as
/// <c>&lt;release&gt;/*.json</c>, e.g. <c>../shared/langflow-samples/1.8/Basic Prompting.json</c>:
/// <c>flows stock-code ../shared/langflow-samples src/Cmp.Flows/Security/stock-code.json</c>.
/// The exports are only read as data: for every component type and release, the distinct <c>template.code.value</c>
/// texts of its nodes. A node Langflow marks <c>edited</c> is not stock and is left out; notes carry no code.
/// The output is deterministic (sorted), so a re-run on the same exports changes nothing.
/// </summary>
internal static class StockCodeGenerator
{
    public static string Generate(string samplesRoot)
    {
        var releases = Directory.GetDirectories(samplesRoot)
            .Where(d => Directory.EnumerateFiles(d, "*.json").Any())
            .Select(Path.GetFileName)
            .OfType<string>()
            .OrderBy(r => Version.TryParse(r, out var v) ? v : new Version(int.MaxValue, 0))
            .ThenBy(r => r, StringComparer.Ordinal)
            .ToList();
        if (releases.Count == 0)
        {
            throw new InvalidDataException($"{samplesRoot} has no <release>/*.json exports.");
        }
        // (component, release, sha) → nodes; sha → text; components seen without code; the code fields' other properties.
        var counts = new Dictionary<(string Component, string Release, string Sha), int>();
        var code = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var codeless = new SortedSet<string>(StringComparer.Ordinal);
        var fields = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var release in releases)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(samplesRoot, release), "*.json").Order(StringComparer.Ordinal))
            {
                var root = JsonNode.Parse(File.ReadAllText(file), documentOptions: new JsonDocumentOptions { MaxDepth = 256 }) as JsonObject
                    ?? throw new InvalidDataException($"{file} is not a Langflow export.");
                foreach (var n in FlowParser.Data(root)["nodes"]?.AsArray().OfType<JsonObject>() ?? [])
                {
                    if (FlowParser.Str(n["type"]) == "noteNode" || FlowParser.Str(n["data"]?["type"]) == "note"
                        || FlowParser.Str(n["data"]?["type"]) is not { } component || n["data"]?["node"] is not JsonObject node
                        || node["edited"] is { } edited && !(edited is JsonValue flag && flag.TryGetValue<bool>(out var e) && !e))
                    {
                        continue;
                    }
                    if ((node["template"] as JsonObject)?["code"] is not JsonObject field || FlowParser.Str(field["value"]) is not { } text)
                    {
                        codeless.Add(component);
                        continue;
                    }
                    var sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
                    code[sha] = text;
                    counts[(component, release, sha)] = counts.GetValueOrDefault((component, release, sha)) + 1;
                    var rest = field.DeepClone().AsObject();
                    rest.Remove("value");
                    var key = rest.ToJsonString();
                    fields[key] = fields.GetValueOrDefault(key) + 1;
                }
            }
        }
        if (fields.Count != 1)
        {
            // Langflow has exported one shape of code field so far; a second one needs a decision, not a guess.
            throw new InvalidDataException($"The exports' code fields differ in their other properties: {string.Join(" | ", fields.Keys)}");
        }

        var components = new JsonObject();
        foreach (var group in counts.GroupBy(c => c.Key.Component).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            components[group.Key] = new JsonArray(group
                .OrderBy(c => releases.IndexOf(c.Key.Release))
                .ThenByDescending(c => c.Value)
                .ThenBy(c => c.Key.Sha, StringComparer.Ordinal)
                .Select(c => (JsonNode)new JsonObject { ["release"] = c.Key.Release, ["sha256"] = c.Key.Sha, ["nodes"] = c.Value })
                .ToArray());
        }
        var catalog = new JsonObject
        {
            ["about"] = "Langflow's own component code, by component type and Langflow release, read from the starter-project exports in "
                + "../shared/langflow-samples/<release>/ (nodes marked edited left out). Generated: flows stock-code <samples> <this file>. Do not edit by hand.",
            ["releases"] = new JsonArray(releases.Select(r => (JsonNode)r).ToArray()),
            ["codeless"] = new JsonArray(codeless.Select(c => (JsonNode)c).ToArray()),
            ["code_field"] = JsonNode.Parse(fields.Keys.Single()),
            ["components"] = components,
            ["code"] = new JsonObject(code.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value))),
        };
        return catalog.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true,
            IndentSize = 2,
            NewLine = "\n",
            // Code stays readable in a diff (quotes, < and > as themselves); it is data, never HTML.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n";
    }
}
