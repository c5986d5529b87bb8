using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cmp.Web.Tests.Peers;

/// <summary>
/// Langflow cannot be installed here, so this server, started in the test, speaks the endpoints CMP uses
/// as Langflow documents them: <c>POST /api/v1/flows/</c> (x-api-key; answers the created flow with its id),
/// <c>GET</c> and <c>DELETE /api/v1/flows/{id}</c> (404 for an unknown flow) and
/// <c>POST /api/v1/run/{id}</c> (JSON result, or with <c>stream=true</c> JSON events separated by blank lines:
/// <c>add_message</c>, <c>token</c> per chunk, <c>end</c> with the result). Its "flow" answers
/// <c>langflow: </c> + the input and counts the turns of each session. Like Langflow it applies the run's
/// <c>tweaks</c> (node id → template field → value) to a copy of the flow, builds a connected field from its
/// edge (a tweak of it has no effect), and renders Prompt templates with Python format rules (a stray brace
/// fails the run); each run records the system text every model would have received.
/// </summary>
public sealed class LangflowPeer : IAsyncDisposable
{
    public const string ApiKey = "lf-test-key";

    private readonly WebApplication _app;

    public string Url { get; }
    public ConcurrentDictionary<string, JsonObject> Flows { get; } = new();
    public ConcurrentQueue<Run> Runs { get; } = new();

    /// <summary>While set, creating a flow answers 422 as Langflow does for a flow it cannot take.</summary>
    public bool RefuseNewFlows { get; set; }

    /// <summary>While set, a streamed run sends its first token and then Langflow's error event (a model provider failing mid-answer).</summary>
    public bool FailMidStream { get; set; }

    /// <summary>One call of /run: what came in, and the system text of each model node after the tweaks (by node id).</summary>
    public sealed record Run(string FlowId, JsonObject Body, Dictionary<string, string> Headers, Dictionary<string, string> SystemTexts);
    private readonly ConcurrentDictionary<string, int> _turns = new();

    private LangflowPeer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<LangflowPeer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        LangflowPeer? peer = null;

        app.MapPost("/api/v1/flows/", async (HttpContext ctx) =>
        {
            if (ctx.Request.Headers["x-api-key"] != ApiKey)
            {
                return Results.Json(new { detail = "Invalid or missing API key" }, statusCode: 403);
            }
            var body = (await JsonNode.ParseAsync(ctx.Request.Body))!.AsObject();
            if (body["data"]?["nodes"] is not JsonArray || peer!.RefuseNewFlows)
            {
                return Results.Json(new { detail = "data.nodes is required" }, statusCode: 422);
            }
            var id = Guid.NewGuid().ToString();
            body["id"] = id;
            peer!.Flows[id] = body;
            return Results.Json(body, statusCode: 201);
        });

        app.MapGet("/api/v1/flows/{id}", (HttpContext ctx, string id) =>
            ctx.Request.Headers["x-api-key"] != ApiKey ? Results.Json(new { detail = "Invalid or missing API key" }, statusCode: 403)
            : peer!.Flows.TryGetValue(id, out var flow) ? Results.Json(flow)
            : Results.Json(new { detail = "Flow not found" }, statusCode: 404));

        app.MapDelete("/api/v1/flows/{id}", (HttpContext ctx, string id) =>
            ctx.Request.Headers["x-api-key"] != ApiKey ? Results.Json(new { detail = "Invalid or missing API key" }, statusCode: 403)
            : peer!.Flows.TryRemove(id, out _) ? Results.Json(new { message = "Flow deleted successfully" })
            : Results.Json(new { detail = "Flow not found" }, statusCode: 404));

        app.MapPost("/api/v1/run/{id}", async (HttpContext ctx, string id) =>
        {
            if (ctx.Request.Headers["x-api-key"] != ApiKey)
            {
                ctx.Response.StatusCode = 403;
                await ctx.Response.WriteAsJsonAsync(new { detail = "Invalid or missing API key" });
                return;
            }
            var body = (await JsonNode.ParseAsync(ctx.Request.Body))!.AsObject();
            var headers = ctx.Request.Headers.Where(h => h.Key.StartsWith("X-LANGFLOW-GLOBAL-VAR-", StringComparison.OrdinalIgnoreCase))
                .ToDictionary(h => h.Key.ToUpperInvariant(), h => h.Value.ToString());
            if (!peer!.Flows.TryGetValue(id, out var flow))
            {
                peer.Runs.Enqueue(new Run(id, body, headers, []));
                ctx.Response.StatusCode = 404;
                await ctx.Response.WriteAsJsonAsync(new { detail = "Flow not found" });
                return;
            }
            Dictionary<string, string> systemTexts;
            try
            {
                systemTexts = SystemTexts(flow["data"]!.DeepClone().AsObject(), body["tweaks"] as JsonObject);
            }
            catch (FormatException ex)
            {
                peer.Runs.Enqueue(new Run(id, body, headers, []));
                ctx.Response.StatusCode = 500;
                await ctx.Response.WriteAsJsonAsync(new { detail = ex.Message });
                return;
            }
            peer.Runs.Enqueue(new Run(id, body, headers, systemTexts));
            var session = body["session_id"]?.GetValue<string>() ?? Guid.NewGuid().ToString();
            var turn = peer._turns.AddOrUpdate(session, 1, (_, n) => n + 1);
            var answer = $"langflow: {body["input_value"]?.GetValue<string>()} (turn {turn})";
            var result = new JsonObject
            {
                ["session_id"] = session,
                ["outputs"] = new JsonArray(new JsonObject
                {
                    ["inputs"] = new JsonObject { ["input_value"] = body["input_value"]?.DeepClone() },
                    ["outputs"] = new JsonArray(new JsonObject
                    {
                        ["results"] = new JsonObject { ["message"] = new JsonObject { ["text"] = answer, ["sender"] = "Machine", ["session_id"] = session } },
                    }),
                }),
            };
            if (ctx.Request.Query["stream"] != "true")
            {
                await ctx.Response.WriteAsJsonAsync(result);
                return;
            }
            ctx.Response.ContentType = "application/x-ndjson";
            async Task Event(string name, JsonNode data)
            {
                await ctx.Response.WriteAsync(new JsonObject { ["event"] = name, ["data"] = data }.ToJsonString(JsonSerializerOptions.Default) + "\n\n");
                await ctx.Response.Body.FlushAsync();
            }
            await Event("add_message", new JsonObject { ["text"] = body["input_value"]?.DeepClone(), ["sender"] = "User" });
            foreach (var word in answer.Split(' ').Select((w, i) => i == 0 ? w : " " + w))
            {
                await Event("token", new JsonObject { ["chunk"] = word, ["id"] = Guid.NewGuid().ToString() });
                if (peer.FailMidStream)
                {
                    await Event("error", new JsonObject { ["error"] = "The model provider closed the connection." });
                    return;
                }
            }
            await Event("end", new JsonObject { ["result"] = result });
        });

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        peer = new LangflowPeer(app, address);
        return peer;
    }

    /// <summary>Applies the tweaks, then resolves each model's system field as Langflow builds it.</summary>
    private static Dictionary<string, string> SystemTexts(JsonObject data, JsonObject? tweaks)
    {
        var nodes = data["nodes"]!.AsArray().OfType<JsonObject>().ToDictionary(n => n["id"]!.GetValue<string>());
        JsonObject Template(JsonObject node) => node["data"]!["node"]!["template"]!.AsObject();
        foreach (var (nodeId, fields) in tweaks ?? [])
        {
            if (nodes.TryGetValue(nodeId, out var node) && fields is JsonObject values)
            {
                foreach (var (field, value) in values)
                {
                    if (Template(node)[field] is JsonObject input)
                    {
                        input["value"] = value?.DeepClone();
                    }
                }
            }
        }
        string? Value(JsonObject node, string field) => Template(node)[field]?["value"] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
        var texts = new Dictionary<string, string>();
        foreach (var (nodeId, node) in nodes)
        {
            foreach (var field in new[] { "system_message", "system_prompt" })
            {
                if (Template(node)[field] is null)
                {
                    continue;
                }
                var edge = data["edges"]!.AsArray().OfType<JsonObject>().FirstOrDefault(e =>
                    e["target"]?.GetValue<string>() == nodeId && e["data"]?["targetHandle"]?["fieldName"]?.GetValue<string>() == field);
                var source = edge is null ? null : nodes[edge["source"]!.GetValue<string>()];
                texts[nodeId] = source is null ? Value(node, field) ?? ""
                    : source["data"]!["type"]!.GetValue<string>() switch
                    {
                        "Prompt" => PythonFormat(Value(source, "template") ?? "", name => Value(source, name)),
                        "TextInput" => Value(source, "input_value") ?? "",
                        _ => "(computed at run time)",
                    };
            }
        }
        return texts;
    }

    /// <summary>str.format as Langflow's Prompt applies it: <c>{{</c>/<c>}}</c> are braces, <c>{name}</c> a variable, anything else fails.</summary>
    private static string PythonFormat(string template, Func<string, string?> variable)
    {
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c is '{' or '}' && i + 1 < template.Length && template[i + 1] == c)
            {
                sb.Append(c);
                i++;
            }
            else if (c == '}')
            {
                throw new FormatException("Single '}' encountered in format string");
            }
            else if (c == '{')
            {
                var end = template.IndexOf('}', i);
                var name = end < 0 ? null : template[(i + 1)..end];
                sb.Append(name is null ? throw new FormatException("Single '{' encountered in format string")
                    : variable(name) ?? throw new FormatException($"Missing variable: {name}"));
                i = end;
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
