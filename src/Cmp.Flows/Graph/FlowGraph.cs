using System.Text.Json.Nodes;

namespace Cmp.Flows.Graph;

/// <summary>A Langflow export as a typed graph. Note nodes are dropped at parse time.</summary>
public sealed class FlowGraph
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    /// <summary><c>1.0</c>, <c>1.7</c>, <c>1.8</c>… as far as the export tells (<c>last_tested_version</c>), else <c>unknown</c>.</summary>
    public string LangflowVersion { get; init; } = "unknown";
    public required IReadOnlyDictionary<string, FlowNode> Nodes { get; init; }
    public required IReadOnlyList<FlowEdge> Edges { get; init; }

    private ILookup<string, FlowEdge>? _into;
    private ILookup<string, FlowEdge>? _outOf;

    // Indexed once: checks and runs ask for a node's edges many times, and exports can be large.
    public IEnumerable<FlowEdge> EdgesInto(string nodeId) => (_into ??= Edges.ToLookup(e => e.Target, StringComparer.Ordinal))[nodeId];

    public IEnumerable<FlowEdge> EdgesOutOf(string nodeId) => (_outOf ??= Edges.ToLookup(e => e.Source, StringComparer.Ordinal))[nodeId];
}

/// <summary>One component instance: its type (Langflow's component name), its fields and outputs.</summary>
public sealed class FlowNode
{
    public required string Id { get; init; }
    /// <summary>The component type, e.g. <c>ChatInput</c>, <c>LanguageModelComponent</c>.</summary>
    public required string Component { get; init; }
    public string DisplayName { get; init; } = "";
    /// <summary>
    /// SHA-256 (lowercase hex) of the UTF-8 text of <c>template.code.value</c>, the Python source Langflow builds the
    /// component from; null when the node has no code text. Checked against <see cref="Security.StockCode"/>: the
    /// code, not Langflow's <c>edited</c> flag, tells a stock component from custom code.
    /// </summary>
    public string? CodeSha256 { get; init; }
    /// <summary>The node carries a nested flow (<c>node.flow</c>: Langflow's grouped components).</summary>
    public bool IsGroup { get; init; }
    public required IReadOnlyDictionary<string, FlowField> Fields { get; init; }
    public required IReadOnlyList<FlowOutput> Outputs { get; init; }
    /// <summary>Position in the export, for stable ordering of equal nodes (e.g. several chat outputs).</summary>
    public int Order { get; init; }
    /// <summary>Index of this node's object in the export's <c>data.nodes</c> array (notes and refused nodes included).</summary>
    public int Index { get; init; }

    public FlowField? Field(string name) => Fields.TryGetValue(name, out var f) ? f : null;
}

/// <summary>A template field: its declared type and the value saved in the export.</summary>
public sealed class FlowField
{
    public required string Name { get; init; }
    public string Type { get; init; } = "str";
    public JsonNode? Value { get; init; }
    public bool Required { get; init; }
    public bool Show { get; init; } = true;
    /// <summary>The value is the name of a variable (a secret such as <c>OPENAI_API_KEY</c>) resolved at run time.</summary>
    public bool LoadFromDb { get; init; }
    public IReadOnlyList<string> InputTypes { get; init; } = [];
    public IReadOnlyList<string> Options { get; init; } = [];

    public bool HasValue => Value switch
    {
        null => false,
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0,
        JsonArray a => a.Count > 0,
        JsonObject o => o.Count > 0,
        _ => true,
    };
}

public sealed record FlowOutput(string Name, IReadOnlyList<string> Types, string? Method);

/// <summary>
/// An edge, read from <c>data.sourceHandle</c> / <c>data.targetHandle</c> (never from the <c>œ</c> handle strings).
/// <see cref="TargetField"/> is null for Langflow's loop-back edges, which feed a loop component's output.
/// </summary>
public sealed record FlowEdge(
    string Id,
    string Source,
    string SourceOutput,
    IReadOnlyList<string> OutputTypes,
    string Target,
    string? TargetField,
    IReadOnlyList<string> InputTypes,
    string? TargetType)
{
    public bool IsLoopBack => TargetField is null;
}
