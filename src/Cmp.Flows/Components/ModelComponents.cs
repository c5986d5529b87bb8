using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cmp.Flows.Graph;
using Cmp.Flows.Models;
using Cmp.Flows.Runtime;
using Microsoft.Extensions.AI;

namespace Cmp.Flows.Components;

internal static class ModelChecks
{
    public static IEnumerable<string> Provider(FlowNode node)
    {
        var spec = ModelSpecs.FromNode(node, "default");
        if (spec is not null && !ModelSpecs.SupportedProviders.Contains(spec.Provider))
        {
            yield return $"The model provider '{spec.Provider}' is not supported: CMP runs OpenAI, Anthropic and Google through their OpenAI-compatible APIs, and OpenAI-compatible servers such as Ollama.";
        }
    }
}

/// <summary>LanguageModelComponent (1.5–1.8) and OpenAIModel (1.0): one model call, system message plus input.</summary>
internal sealed class LanguageModelComponent : FlowComponent
{
    public override IEnumerable<string> Check(FlowNode node) => ModelChecks.Provider(node);

    public override async Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var spec = ModelSpecs.FromNode(ctx.Node, ctx.Run.Runtime.Options.DefaultModel)!;
        // Only call the model when its answer is used (a node may be wired only for its model handle).
        var answerUsed = ctx.Run.Graph.EdgesOutOf(ctx.Node.Id).Any(e => e.SourceOutput == "text_output");
        if (!answerUsed)
        {
            return Outputs(("model_output", spec), ("text_output", null));
        }
        var messages = new List<ChatMessage>();
        var system = ctx.Text("system_message");
        if (system.Length > 0)
        {
            messages.Add(new ChatMessage(ChatRole.System, system));
        }
        messages.Add(new ChatMessage(ChatRole.User, ctx.Text("input_value")));
        var answer = await ctx.Run.ChatAsync(ctx, spec, messages, new ChatOptions { Temperature = spec.Temperature, ModelId = spec.Model });
        return Outputs(("text_output", new FlowMessage(answer)), ("model_output", spec));
    }
}

/// <summary>
/// Agent: a model with tools (components in tool mode, plus the current date), the session's history,
/// and at most <c>max_iterations</c> tool rounds, through Microsoft.Extensions.AI function invocation.
/// </summary>
internal sealed class AgentComponent : FlowComponent
{
    public override IEnumerable<string> Check(FlowNode node) => ModelChecks.Provider(node);

    public override async Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var spec = ModelSpecs.FromNode(ctx.Node, ctx.Run.Runtime.Options.DefaultModel)!;
        var tools = ctx.Connected("tools").OfType<AITool>().ToList();
        if (ctx.Bool("add_current_date_tool", false))
        {
            tools.Add(AIFunctionFactory.Create(
                [Description("Returns the current date and time in UTC.")] () => DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture),
                "get_current_date"));
        }
        var messages = new List<ChatMessage>();
        var system = ctx.Text("system_prompt");
        if (system.Length > 0)
        {
            messages.Add(new ChatMessage(ChatRole.System, system));
        }
        foreach (var turn in await ctx.Run.HistoryAsync(ctx.Int("n_messages", 100)))
        {
            messages.Add(new ChatMessage(turn.Sender == FlowMessage.User ? ChatRole.User : ChatRole.Assistant, turn.Text));
        }
        messages.Add(new ChatMessage(ChatRole.User, ctx.Text("input_value")));
        var options = new ChatOptions { Temperature = spec.Temperature, ModelId = spec.Model, Tools = tools.Count > 0 ? tools : null };
        var answer = await ctx.Run.ChatAsync(ctx, spec, messages, options, ctx.Int("max_iterations", 15));
        return Outputs(("response", new FlowMessage(answer)));
    }
}

/// <summary>StructuredOutput: asks the model for JSON of the seller's schema and answers it as Data / DataFrame.</summary>
internal sealed class StructuredOutputComponent : FlowComponent
{
    public override IEnumerable<string> Check(FlowNode node) =>
        node.Field("model") is { Type: "model" } ? ModelChecks.Provider(node) : [];

    public override async Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var spec = ctx.Value("llm") as ModelSpec
            ?? ModelSpecs.FromNode(ctx.Node, ctx.Run.Runtime.Options.DefaultModel)
            ?? throw ctx.Fail("No language model is connected to this node.");
        var item = ItemSchema(ctx.Value("output_schema"));
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["objects"] = new JsonObject { ["type"] = "array", ["items"] = item } },
            ["required"] = new JsonArray("objects"),
            ["additionalProperties"] = false,
        };
        var name = ctx.Text("schema_name");
        var format = ChatResponseFormat.ForJsonSchema(JsonSerializer.SerializeToElement(schema), name.Length > 0 ? name : "output");
        var messages = new List<ChatMessage>();
        var system = ctx.Text("system_prompt");
        if (system.Length > 0)
        {
            messages.Add(new ChatMessage(ChatRole.System, system));
        }
        messages.Add(new ChatMessage(ChatRole.User, ctx.Text("input_value")));
        var answer = await ctx.Run.ChatAsync(ctx, spec, messages, new ChatOptions { ResponseFormat = format, ModelId = spec.Model, Temperature = spec.Temperature });
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(answer);
        }
        catch (JsonException)
        {
            throw ctx.Fail("The model did not answer JSON for the structured output.");
        }
        var objects = (parsed as JsonObject)?["objects"] is JsonArray array
            ? array.OfType<JsonObject>().Select(o => new FlowData((JsonObject)o.DeepClone())).ToList()
            : parsed is JsonObject single ? [new FlowData(single)] : [];
        return Outputs(
            ("structured_output", objects.FirstOrDefault() ?? new FlowData([])),
            ("dataframe_output", new FlowDataFrame(objects)));
    }

    /// <summary>Langflow's schema table: rows of {name, description, type: str|int|float|bool|dict, multiple}.</summary>
    private static JsonObject ItemSchema(object? table)
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var row in Values.ToRows(table))
        {
            var name = row.Get("name").Trim();
            if (name.Length == 0)
            {
                continue;
            }
            JsonNode type = row.Get("type").ToLowerInvariant() switch
            {
                "int" or "integer" => new JsonObject { ["type"] = "integer" },
                "float" or "number" => new JsonObject { ["type"] = "number" },
                "bool" or "boolean" => new JsonObject { ["type"] = "boolean" },
                "dict" => new JsonObject { ["type"] = "object", ["additionalProperties"] = false, ["properties"] = new JsonObject() },
                _ => new JsonObject { ["type"] = "string" },
            };
            var multiple = row.Get("multiple").Equals("true", StringComparison.OrdinalIgnoreCase);
            var property = multiple ? new JsonObject { ["type"] = "array", ["items"] = type } : (JsonObject)type;
            if (row.Get("description") is { Length: > 0 } description)
            {
                property["description"] = description;
            }
            properties[name] = property;
            required.Add(name);
        }
        return new JsonObject { ["type"] = "object", ["properties"] = properties, ["required"] = required, ["additionalProperties"] = false };
    }
}
