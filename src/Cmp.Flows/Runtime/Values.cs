using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cmp.Flows.Runtime;

/// <summary>Langflow's Message: text plus who said it.</summary>
public sealed record FlowMessage(string Text, string Sender = FlowMessage.Machine, string SenderName = "AI")
{
    public const string User = "User";
    public const string Machine = "Machine";
}

/// <summary>Langflow's Data: a JSON object, whose <c>text</c> key is its text.</summary>
public sealed record FlowData(JsonObject Values)
{
    public static FlowData FromText(string text, string key = "text") => new(new JsonObject { [key] = text });

    /// <summary>A scalar field as text (strings as they are, numbers and booleans formatted); "" when absent or not a scalar.</summary>
    public string Get(string key) => Values[key] switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v => v.ToJsonString(),
        _ => "",
    };

    public string Text(string key = "text") =>
        Values[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : Values.ToJsonString(Json.Compact);
}

/// <summary>Langflow's DataFrame: rows of Data.</summary>
public sealed record FlowDataFrame(IReadOnlyList<FlowData> Rows);

/// <summary>Conversions between Langflow's value kinds, as its components apply them.</summary>
public static class Values
{
    /// <summary>Text of any value: a message's text, a Data's <c>text</c>, a DataFrame's rows' texts one per line.</summary>
    public static string ToText(object? value) => value switch
    {
        null => "",
        string s => s,
        FlowMessage m => m.Text,
        FlowData d => d.Text(),
        FlowDataFrame f => string.Join("\n", f.Rows.Select(r => r.Text())),
        IEnumerable<object?> many => string.Join("\n", many.Select(ToText)),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonNode n => n.ToJsonString(Json.Compact),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Rows of Data from any value: a message or text becomes one row with <c>text</c>.</summary>
    public static List<FlowData> ToRows(object? value) => value switch
    {
        null => [],
        FlowData d => [d],
        FlowDataFrame f => [.. f.Rows],
        FlowMessage m => [FlowData.FromText(m.Text)],
        string s => [FlowData.FromText(s)],
        IEnumerable<object?> many => many.SelectMany(ToRows).ToList(),
        JsonObject o => [new FlowData(o)],
        _ => [FlowData.FromText(ToText(value))],
    };

    /// <summary>Python <c>str.format</c>-style <c>{key}</c> substitution from a row; unknown keys render empty.</summary>
    public static string Format(string pattern, FlowData row) =>
        PromptTemplate.Render(pattern, PromptTemplate.Syntax.SingleBraces, name =>
            row.Values[name] switch
            {
                null => "",
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonNode n => n.ToJsonString(Json.Compact),
            });
}

internal static class Json
{
    public static readonly JsonSerializerOptions Compact = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
