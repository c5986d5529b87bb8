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
/// Langflow cannot be installed here, so this server, started in the test, speaks the two endpoints CMP uses
/// as Langflow documents them: <c>POST /api/v1/flows/</c> (x-api-key; answers the created flow with its id) and
/// <c>POST /api/v1/run/{id}</c> (JSON result, or with <c>stream=true</c> JSON events separated by blank lines:
/// <c>add_message</c>, <c>token</c> per chunk, <c>end</c> with the result). Its "flow" answers
/// <c>langflow: </c> + the input and counts the turns of each session.
/// </summary>
public sealed class LangflowPeer : IAsyncDisposable
{
    public const string ApiKey = "lf-test-key";

    private readonly WebApplication _app;

    public string Url { get; }
    public ConcurrentDictionary<string, JsonObject> Flows { get; } = new();
    public ConcurrentQueue<(string FlowId, JsonObject Body, Dictionary<string, string> Headers)> Runs { get; } = new();
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
            if (body["data"]?["nodes"] is not JsonArray)
            {
                return Results.Json(new { detail = "data.nodes is required" }, statusCode: 422);
            }
            var id = Guid.NewGuid().ToString();
            body["id"] = id;
            peer!.Flows[id] = body;
            return Results.Json(body, statusCode: 201);
        });

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
            peer!.Runs.Enqueue((id, body, headers));
            if (!peer.Flows.ContainsKey(id))
            {
                ctx.Response.StatusCode = 404;
                await ctx.Response.WriteAsJsonAsync(new { detail = "Flow not found" });
                return;
            }
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
            }
            await Event("end", new JsonObject { ["result"] = result });
        });

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        peer = new LangflowPeer(app, address);
        return peer;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
