using System.Globalization;
using System.Text.Json.Nodes;
using Cmp.Flows.Graph;

namespace Cmp.Flows.Models;

/// <summary>
/// Which model a node calls. <see cref="ApiKey"/> is either a literal or, when <see cref="ApiKeyIsVariable"/>,
/// the name of a variable resolved from the host's secrets at run time.
/// </summary>
public sealed record ModelSpec(string Provider, string Model, string? ApiKey, bool ApiKeyIsVariable, string? BaseUrl, float? Temperature)
{
    public const string OpenAi = "OpenAI";
    public const string Ollama = "Ollama";
    public const string Anthropic = "Anthropic";
    public const string Google = "Google";
    public const string DefaultKeyVariable = "OPENAI_API_KEY";

    public bool IsOllama => Provider.Equals(Ollama, StringComparison.OrdinalIgnoreCase);
}

/// <summary>Reads the model settings of the model-bearing components across export formats.</summary>
public static class ModelSpecs
{
    public static readonly IReadOnlySet<string> SupportedProviders = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ModelSpec.OpenAi, ModelSpec.Ollama, ModelSpec.Anthropic, ModelSpec.Google,
    };

    /// <summary>
    /// Providers reached through their own OpenAI-compatible endpoints (as documented by each vendor),
    /// with the variable that holds their key when the node names none.
    /// </summary>
    private static readonly Dictionary<string, (string BaseUrl, string KeyVariable)> Compatible = new(StringComparer.OrdinalIgnoreCase)
    {
        [ModelSpec.Anthropic] = ("https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY"),
        [ModelSpec.Google] = ("https://generativelanguage.googleapis.com/v1beta/openai/", "GOOGLE_API_KEY"),
    };

    /// <summary>
    /// The node's model, or null when the node takes its model from an edge (<c>llm</c>, 1.7 StructuredOutput).
    /// An empty 1.8 <c>model</c> list (exports strip the selection) means the platform's default model.
    /// </summary>
    public static ModelSpec? FromNode(FlowNode node, string defaultModel)
    {
        var temperature = Float(node.Field("temperature")?.Value);
        var (key, keyIsVariable) = ApiKey(node.Field("api_key") ?? node.Field("openai_api_key"));
        var baseUrl = Text(node.Field("openai_api_base")?.Value) ?? Text(node.Field("base_url")?.Value);

        // 1.8: a unified model list [{name, provider|category, ...}].
        if (node.Field("model") is { Type: "model" } unified)
        {
            var first = (unified.Value as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
            if (first is null)
            {
                return new ModelSpec(ModelSpec.OpenAi, defaultModel, key, keyIsVariable || key is null, baseUrl, temperature) with { ApiKey = key ?? ModelSpec.DefaultKeyVariable };
            }
            var provider = Text(first["provider"]) ?? Text(first["category"]) ?? ModelSpec.OpenAi;
            var name = Text(first["name"]) ?? defaultModel;
            return Make(node, provider, name, key, keyIsVariable, baseUrl, temperature);
        }
        return node.Component switch
        {
            "OpenAIModel" => Make(node, ModelSpec.OpenAi, Text(node.Field("model_name")?.Value) ?? defaultModel, key, keyIsVariable, baseUrl, temperature),
            "LanguageModelComponent" => Make(node, Text(node.Field("provider")?.Value) ?? ModelSpec.OpenAi, Text(node.Field("model_name")?.Value) ?? defaultModel, key, keyIsVariable, baseUrl, temperature),
            "Agent" => Make(node, Text(node.Field("agent_llm")?.Value) ?? ModelSpec.OpenAi, Text(node.Field("model_name")?.Value) ?? defaultModel, key, keyIsVariable, baseUrl, temperature),
            _ => null,
        };
    }

    private static ModelSpec Make(FlowNode node, string provider, string model, string? key, bool keyIsVariable, string? baseUrl, float? temperature)
    {
        if (provider.Equals(ModelSpec.Ollama, StringComparison.OrdinalIgnoreCase))
        {
            // Ollama speaks the OpenAI protocol under /v1.
            var ollama = Text(node.Field("ollama_base_url")?.Value) ?? baseUrl ?? "http://localhost:11434";
            return new ModelSpec(ModelSpec.Ollama, model, key ?? "ollama", keyIsVariable, ollama.TrimEnd('/') + "/v1", temperature);
        }
        var compatible = Compatible.GetValueOrDefault(provider);
        if (key is null)
        {
            key = compatible.KeyVariable ?? ModelSpec.DefaultKeyVariable;
            keyIsVariable = true;
        }
        return new ModelSpec(provider, model, key, keyIsVariable, baseUrl ?? compatible.BaseUrl, temperature);
    }

    private static (string? Key, bool IsVariable) ApiKey(FlowField? field)
    {
        var value = Text(field?.Value);
        return value is null ? (null, false) : (value, field!.LoadFromDb);
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null;

    private static float? Float(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<double>(out var d) => (float)d,
        JsonValue v when v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => (float)d,
        _ => null,
    };
}
