using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cmp.Flows.Checks;

namespace Cmp.Flows.Graph;

/// <summary>
/// Reads a Langflow export (formats 1.0, 1.5–1.7 and 1.8 share the shape <c>{data: {nodes, edges}}</c>)
/// into a <see cref="FlowGraph"/>. Structural problems are returned, not thrown.
/// </summary>
public static class FlowParser
{
    public const int MaxBytes = 5 * 1024 * 1024;

    public sealed record Result(FlowGraph? Graph, IReadOnlyList<FlowProblem> Problems);

    public static Result Parse(byte[] utf8) => utf8.Length > MaxBytes
        ? new Result(null, [TooLarge(utf8.Length)])
        : Parse(Encoding.UTF8.GetString(utf8));

    public static Result Parse(string json) => Parse(json, out _);

    /// <summary>Parses, and hands back the export's JSON as read, so a caller can rewrite exactly the nodes the graph holds.</summary>
    internal static Result Parse(string json, out JsonObject? root)
    {
        root = null;
        if (Encoding.UTF8.GetByteCount(json) > MaxBytes)
        {
            return new Result(null, [TooLarge(Encoding.UTF8.GetByteCount(json))]);
        }
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException ex)
        {
            return new Result(null, [new FlowProblem(null, null, $"The file is not JSON: {ex.Message}")]);
        }
        if (parsed is not JsonObject top)
        {
            return new Result(null, [new FlowProblem(null, null, "The file is JSON but not a Langflow export (expected an object).")]);
        }
        root = top;
        var data = Data(top);
        var problems = new List<FlowProblem>();
        if (data["nodes"] is not JsonArray)
        {
            problems.Add(new FlowProblem(null, null, "The export has no data.nodes list."));
        }
        if (data["edges"] is not JsonArray)
        {
            problems.Add(new FlowProblem(null, null, "The export has no data.edges list."));
        }
        if (problems.Count > 0)
        {
            return new Result(null, problems);
        }

        var nodes = new Dictionary<string, FlowNode>(StringComparer.Ordinal);
        var order = 0;
        var index = -1;
        foreach (var item in (JsonArray)data["nodes"]!)
        {
            index++;
            if (item is not JsonObject n)
            {
                continue;
            }
            var id = Str(n["id"]) ?? Str(n["data"]?["id"]);
            if (Str(n["type"]) == "noteNode" || Str(n["data"]?["type"]) == "note")
            {
                continue; // notes are documentation on the canvas
            }
            var nodeData = n["data"] as JsonObject;
            var component = Str(nodeData?["type"]);
            var node = nodeData?["node"] as JsonObject;
            if (id is null || component is null || node is null)
            {
                problems.Add(new FlowProblem(id, component, "The node has no id, type or component definition."));
                continue;
            }
            if (nodes.ContainsKey(id))
            {
                problems.Add(new FlowProblem(id, component, "Two nodes share this id."));
                continue;
            }
            var template = node["template"] as JsonObject;
            nodes[id] = new FlowNode
            {
                Id = id,
                Component = component,
                DisplayName = Str(node["display_name"]) ?? component,
                CodeSha256 = Str((template?["code"] as JsonObject)?["value"]) is { } code ? Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(code))) : null,
                IsGroup = node["flow"] is not null,
                Fields = ReadFields(template),
                Outputs = ReadOutputs(node["outputs"] as JsonArray),
                Order = order++,
                Index = index,
            };
        }

        var edges = new List<FlowEdge>();
        foreach (var item in (JsonArray)data["edges"]!)
        {
            if (item is not JsonObject e)
            {
                continue;
            }
            var source = Str(e["source"]);
            var target = Str(e["target"]);
            var sh = e["data"]?["sourceHandle"] as JsonObject;
            var th = e["data"]?["targetHandle"] as JsonObject;
            var edgeId = Str(e["id"]) ?? $"{source}->{target}";
            if (source is null || target is null || sh is null || th is null)
            {
                problems.Add(new FlowProblem(source ?? target, null, $"Edge {Short(edgeId)} has no source/target handle data."));
                continue;
            }
            edges.Add(new FlowEdge(
                edgeId,
                source,
                Str(sh["name"]) ?? "",
                Strings(sh["output_types"]),
                target,
                Str(th["fieldName"]),
                Strings(th["inputTypes"]),
                Str(th["type"])));
        }

        var graph = new FlowGraph
        {
            Name = Str(top["name"]) ?? "Untitled flow",
            Description = Str(top["description"]) ?? "",
            LangflowVersion = Str(top["last_tested_version"]) ?? "unknown",
            Nodes = nodes,
            Edges = edges,
        };
        return new Result(graph, problems);
    }

    /// <summary>The object holding <c>nodes</c> and <c>edges</c>: <c>data</c> in an export, or the top level itself.</summary>
    internal static JsonObject Data(JsonObject root) => root["data"] as JsonObject ?? root;

    private static FlowProblem TooLarge(int bytes) =>
        new(null, null, $"The export is {bytes / 1024 / 1024.0:0.0} MB; the limit is 5 MB.");

    private static string Short(string id) => id.Length > 60 ? id[..60] + "…" : id;

    private static Dictionary<string, FlowField> ReadFields(JsonObject? template)
    {
        var fields = new Dictionary<string, FlowField>(StringComparer.Ordinal);
        if (template is null)
        {
            return fields;
        }
        foreach (var (name, raw) in template)
        {
            if (raw is not JsonObject f || name is "code" or "_type")
            {
                continue;
            }
            fields[name] = new FlowField
            {
                Name = name,
                Type = Str(f["type"]) ?? "str",
                Value = f["value"]?.DeepClone(),
                Required = Bool(f["required"]),
                Show = f["show"] is null || Bool(f["show"]),
                LoadFromDb = Bool(f["load_from_db"]),
                InputTypes = Strings(f["input_types"]),
                Options = f["options"] is JsonArray opts ? opts.Select(o => o is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).OfType<string>().ToList() : [],
            };
        }
        return fields;
    }

    private static List<FlowOutput> ReadOutputs(JsonArray? outputs) =>
        outputs?.OfType<JsonObject>()
            .Select(o => new FlowOutput(Str(o["name"]) ?? "", Strings(o["types"]), Str(o["method"])))
            .ToList() ?? [];

    internal static string? Str(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool Bool(JsonNode? node) =>
        node is JsonValue v && (v.TryGetValue<bool>(out var b) ? b : v.TryGetValue<string>(out var s) && s.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static List<string> Strings(JsonNode? node) =>
        node is JsonArray a ? a.Select(Str).OfType<string>().ToList() : [];
}
