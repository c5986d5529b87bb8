using System.Text.Json.Nodes;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;

namespace Cmp.Flows.Components;

/// <summary>Memory / Message History: the session's earlier messages, as text and as rows.</summary>
internal sealed class MemoryComponent : FlowComponent
{
    public override IEnumerable<string> Check(FlowNode node)
    {
        if (FlowParser.Str(node.Field("mode")?.Value) is { } mode && !mode.Equals("Retrieve", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"Memory in '{mode}' mode is not supported; CMP stores each turn itself and retrieves it with 'Retrieve'.";
        }
        if (node.Field("memory") is { } external && external.HasValue)
        {
            yield return "An external memory store is not supported; CMP keeps the conversation itself.";
        }
    }

    public override async Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var history = await ctx.Run.HistoryAsync(ctx.Int("n_messages", 100));
        var sender = ctx.Text(ctx.Node.Field("sender_type") is not null ? "sender_type" : "sender", "Machine and User");
        var senderName = ctx.Text("sender_name");
        IEnumerable<StoredMessage> selected = history;
        if (sender is FlowMessage.User or FlowMessage.Machine)
        {
            selected = selected.Where(m => m.Sender == sender);
        }
        if (senderName.Length > 0)
        {
            selected = selected.Where(m => m.SenderName == senderName);
        }
        if (ctx.Text("order", "Ascending").Equals("Descending", StringComparison.OrdinalIgnoreCase))
        {
            selected = selected.Reverse();
        }
        var template = ctx.Text("template", "{sender_name}: {text}");
        var rows = selected.Select(m => new FlowData(new JsonObject
        {
            ["text"] = m.Text,
            ["sender"] = m.Sender,
            ["sender_name"] = m.SenderName,
            ["session_id"] = ctx.Run.Request.SessionId,
            ["timestamp"] = m.Timestamp.ToString("O"),
        })).ToList();
        var text = string.Join("\n", rows.Select(r => Values.Format(template, r)));
        var frame = new FlowDataFrame(rows);
        return Outputs(("messages_text", new FlowMessage(text)), ("messages", frame), ("dataframe", frame), ("lc_memory", null));
    }
}

/// <summary>ParseData (1.0): each Data rendered through the template, joined by the separator.</summary>
internal sealed class ParseDataComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var template = ctx.Text("template", "{text}");
        var text = string.Join(Unescape(ctx.Text("sep", "\n")), Values.ToRows(ctx.Value("data")).Select(r => Values.Format(template, r)));
        return Task.FromResult(Outputs(("text", new FlowMessage(text)), ("data_list", null)));
    }

    /// <summary>Separators are saved as typed in the UI, where <c>\n</c> means a line break.</summary>
    internal static string Unescape(string sep) => sep.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal);
}

/// <summary>Parser (1.5+): "Parser" mode renders each row through the pattern; "Stringify" turns the input into text.</summary>
internal sealed class ParserComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var input = ctx.Value("input_data");
        var sep = ParseDataComponent.Unescape(ctx.Text("sep", "\n"));
        string text;
        if (ctx.Text("mode", "Parser").Equals("Stringify", StringComparison.OrdinalIgnoreCase))
        {
            text = input is FlowDataFrame or FlowData
                ? string.Join(sep, Values.ToRows(input).Select(r => r.Values.ToJsonString(Json.Compact)))
                : Values.ToText(input);
        }
        else
        {
            var pattern = ctx.Text("pattern", "{text}");
            text = string.Join(sep, Values.ToRows(input).Select(r => Values.Format(pattern, r)));
        }
        return Task.FromResult(Outputs(("parsed_text", new FlowMessage(text))));
    }
}

/// <summary>SplitText: character splitting on a separator into chunks of at most chunk_size, with overlap.</summary>
internal sealed class SplitTextComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var key = ctx.Text("text_key", "text");
        var size = Math.Max(1, ctx.Int("chunk_size", 1000));
        var overlap = Math.Clamp(ctx.Int("chunk_overlap", 200), 0, size - 1);
        var separator = ParseDataComponent.Unescape(ctx.Text("separator", "\n"));
        var keep = ctx.Bool("keep_separator", false);
        var chunks = new List<FlowData>();
        foreach (var row in Values.ToRows(ctx.Value("data_inputs")))
        {
            foreach (var chunk in Split(row.Text(key), separator, size, overlap, keep))
            {
                var values = (JsonObject)row.Values.DeepClone();
                values[key] = chunk;
                chunks.Add(new FlowData(values));
            }
        }
        var frame = new FlowDataFrame(chunks);
        return Task.FromResult(Outputs(("chunks", frame), ("dataframe", frame)));
    }

    internal static IEnumerable<string> Split(string text, string separator, int size, int overlap, bool keepSeparator)
    {
        var pieces = separator.Length == 0
            ? text.Select(c => c.ToString()).ToList()
            : text.Split(separator).Select((p, i) => keepSeparator && i > 0 ? separator + p : p).Where(p => p.Length > 0).ToList();
        var join = keepSeparator ? "" : separator;
        var current = new List<string>();
        var length = 0;
        foreach (var piece in pieces)
        {
            if (current.Count > 0 && length + join.Length + piece.Length > size)
            {
                yield return string.Join(join, current);
                // Keep trailing pieces as overlap, as LangChain's CharacterTextSplitter does.
                while (current.Count > 0 && (length > overlap || length + join.Length + piece.Length > size))
                {
                    length -= current[0].Length + (current.Count > 1 ? join.Length : 0);
                    current.RemoveAt(0);
                }
            }
            length += piece.Length + (current.Count > 0 ? join.Length : 0);
            current.Add(piece);
        }
        if (current.Count > 0)
        {
            yield return string.Join(join, current);
        }
    }
}

/// <summary>TypeConverter: Message, Data and DataFrame into one another.</summary>
internal sealed class TypeConverterComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var input = ctx.Value("input_data");
        var rows = Values.ToRows(input);
        return Task.FromResult(Outputs(
            ("message_output", new FlowMessage(Values.ToText(input))),
            ("data_output", rows.Count == 1 ? rows[0] : new FlowData(new JsonObject { ["results"] = new JsonArray(rows.Select(r => (JsonNode)r.Values.DeepClone()).ToArray()) })),
            ("dataframe_output", new FlowDataFrame(rows))));
    }
}
