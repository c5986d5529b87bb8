using System.Globalization;
using System.Text.Json.Nodes;
using Cmp.Flows.Graph;

namespace Cmp.Flows.Runtime;

/// <summary>What a component sees while it runs: its node, its inputs (edges first, then the saved field values) and the run.</summary>
internal sealed class NodeContext(FlowNode node, RunState run, IReadOnlyDictionary<string, List<object?>> inputs)
{
    public FlowNode Node { get; } = node;
    public RunState Run { get; } = run;
    public CancellationToken Ct => Run.Ct;

    public bool IsConnected(string field) => inputs.ContainsKey(field);

    /// <summary>All values connected to <paramref name="field"/> (several edges may feed one list field).</summary>
    public IReadOnlyList<object?> Connected(string field) => inputs.TryGetValue(field, out var list) ? list : [];

    /// <summary>The connected value (one edge) or values (several), else the saved value as a plain .NET value.</summary>
    public object? Value(string field)
    {
        if (inputs.TryGetValue(field, out var list))
        {
            return list.Count == 1 ? list[0] : list;
        }
        return Node.Field(field)?.Value is { } node ? Plain(node) : null;
    }

    public string Text(string field, string fallback = "")
    {
        if (inputs.TryGetValue(field, out var list))
        {
            return string.Join("\n", list.Select(Values.ToText));
        }
        return Node.Field(field)?.Value switch
        {
            null => fallback,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonValue v => v.ToJsonString(),
            JsonNode n => n.ToJsonString(),
        };
    }

    public int Int(string field, int fallback) =>
        int.TryParse(Text(field), NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
        : double.TryParse(Text(field), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? (int)d : fallback;

    public bool Bool(string field, bool fallback) => Text(field).Trim().ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => fallback,
    };

    public FlowRunException Fail(string message, Exception? inner = null) => new(Node.Id, Node.Component, message, inner);

    private static object? Plain(JsonNode node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<double>(out var d) => d,
        JsonArray a => a.Select(x => x is null ? null : Plain(x)).ToList(),
        _ => node,
    };
}
