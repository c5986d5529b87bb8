using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Cmp.Flows.Models;

/// <summary>
/// The built-in deterministic <c>dev</c> model, for offline use and tests; labelled as such wherever it appears.
/// Its reply is exactly <c>"[dev] " + the last user message</c>, then, when a system message is present,
/// a new line <c>"[system] " + the system message</c>. It streams word by word and counts tokens with o200k.
/// Asked for JSON with a schema (structured output), it answers an object of that schema whose text
/// fields hold the same reply, so downstream parsing still runs.
/// </summary>
public sealed class DevChatClient : IChatClient
{
    public const string ModelId = "dev";
    public static readonly DevChatClient Instance = new();

    public static string Reply(IEnumerable<ChatMessage> messages)
    {
        var list = messages.ToList();
        var user = list.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var systems = list.Where(m => m.Role == ChatRole.System).Select(m => m.Text).Where(t => t.Length > 0).ToList();
        var reply = "[dev] " + user;
        return systems.Count > 0 ? reply + "\n[system] " + string.Join("\n", systems) : reply;
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var list = messages.ToList();
        var text = Answer(list, options);
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = ModelId,
            FinishReason = ChatFinishReason.Stop,
            Usage = Usage(list, text),
        });
    }

#pragma warning disable CS1998 // an async iterator with nothing to await: the dev model answers at once
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        var text = Answer(list, options);
        foreach (var chunk in Words(text))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, chunk) { ModelId = ModelId };
        }
        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, ModelId = ModelId, FinishReason = ChatFinishReason.Stop, Contents = [new UsageContent(Usage(list, text))] };
    }
#pragma warning restore CS1998

    /// <summary>Splits into words, each chunk keeping the whitespace before it, so the chunks concatenate to the text.</summary>
    public static IEnumerable<string> Words(string text)
    {
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || (char.IsWhiteSpace(text[i]) && !char.IsWhiteSpace(text[i - 1])))
            {
                yield return text[start..i];
                start = i;
            }
        }
    }

    private static string Answer(List<ChatMessage> messages, ChatOptions? options)
    {
        var reply = Reply(messages);
        if (options?.ResponseFormat is ChatResponseFormatJson { Schema: { } schema })
        {
            return Sample(schema, reply)?.ToJsonString() ?? "null";
        }
        return reply;
    }

    private static UsageDetails Usage(List<ChatMessage> messages, string reply)
    {
        var input = messages.Sum(m => TokenCounter.Count(m.Text));
        var output = TokenCounter.Count(reply);
        return new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };
    }

    /// <summary>A value that satisfies the JSON schema: text fields carry the reply, numbers are 0, lists have one item.</summary>
    private static JsonNode? Sample(JsonElement schema, string reply)
    {
        var type = schema.TryGetProperty("type", out var t) ? (t.ValueKind == JsonValueKind.Array ? t[0].GetString() : t.GetString()) : "object";
        switch (type)
        {
            case "object":
                var obj = new JsonObject();
                if (schema.TryGetProperty("properties", out var props))
                {
                    foreach (var p in props.EnumerateObject())
                    {
                        obj[p.Name] = Sample(p.Value, reply);
                    }
                }
                return obj;
            case "array":
                return schema.TryGetProperty("items", out var items) ? new JsonArray(Sample(items, reply)) : new JsonArray();
            case "integer":
            case "number":
                return JsonValue.Create(0);
            case "boolean":
                return JsonValue.Create(false);
            case "null":
                return null;
            default:
                return JsonValue.Create(reply);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
