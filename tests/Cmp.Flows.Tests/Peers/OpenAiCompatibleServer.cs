using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cmp.Flows.Tests.Peers;

/// <summary>
/// A stand-in for OpenAI's Chat Completions API on loopback (real Kestrel, real HTTP), speaking the
/// wire format as OpenAI documents it: <c>POST /v1/chat/completions</c> with bearer auth, the
/// <c>chat.completion</c> object, and server-sent <c>chat.completion.chunk</c> events ending in
/// <c>data: [DONE]</c>. What it answers is scripted by the test (<see cref="Enqueue"/>); with nothing
/// scripted it echoes the last user message. Every request is kept in <see cref="Requests"/>.
/// </summary>
public sealed class OpenAiCompatibleServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ScriptedReply> _replies = new();
    private readonly Lock _gate = new();
    private readonly List<RecordedRequest> _requests = [];
    private int _abortedStreams;

    /// <summary>Base address for the OpenAI client's <c>Endpoint</c>, e.g. <c>http://127.0.0.1:5123/v1</c>.</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>The key the server accepts as <c>Authorization: Bearer …</c>; null accepts any non-empty key.</summary>
    public string? ExpectedApiKey { get; set; }

    /// <summary>Pause before each streamed chunk, so a test can cancel a stream midway.</summary>
    public TimeSpan ChunkDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Called for each authorised request before any reply is taken from the queue; a status code
    /// (e.g. 429, 500) makes the server answer that status with OpenAI's error JSON instead.
    /// </summary>
    public Func<RecordedRequest, int?>? FailWith { get; set; }

    /// <summary>
    /// When set, failures from <see cref="FailWith"/> carry <c>retry-after-ms</c> and <c>Retry-After</c> (whole seconds,
    /// rounded up) headers. The OpenAI SDK's retry policy honours only <c>Retry-After</c>; zero makes it retry at once.
    /// </summary>
    public TimeSpan? RetryAfter { get; set; }

    /// <summary>Every request received, in order (including rejected ones).</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>
    /// Streams the client abandoned before the server finished writing them. .NET's HttpClient drains an abandoned
    /// response for up to 2 s before closing the connection, so the count can go up that long after the client cancels.
    /// </summary>
    public int AbortedStreams => Volatile.Read(ref _abortedStreams);

    /// <summary>Scripted replies not yet used.</summary>
    public int PendingReplies => _replies.Count;

    private OpenAiCompatibleServer(WebApplication app)
    {
        _app = app;
    }

    public static async Task<OpenAiCompatibleServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // A stream still running at dispose (a test that never read it to the end) is cut after this, not 30 s.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new OpenAiCompatibleServer(app);
        app.MapPost("/v1/chat/completions", (RequestDelegate)server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.Single();
        server.BaseUrl = address.TrimEnd('/') + "/v1";
        return server;
    }

    /// <summary>Queues the reply for the next answered request (thread-safe, first in first out).</summary>
    public void Enqueue(ScriptedReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        _replies.Enqueue(reply);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        string body;
        using (var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(ct);
        }
        var authorization = ctx.Request.Headers.Authorization.Count > 0 ? ctx.Request.Headers.Authorization.ToString() : null;
        var (request, parseError) = RecordedRequest.Parse(body, authorization);
        lock (_gate)
        {
            _requests.Add(request);
        }

        const string BearerPrefix = "Bearer ";
        var key = authorization is not null && authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
            ? authorization[BearerPrefix.Length..].Trim()
            : null;
        if (string.IsNullOrEmpty(key))
        {
            await WriteErrorAsync(ctx, StatusCodes.Status401Unauthorized,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", "invalid_api_key");
            return;
        }
        if (ExpectedApiKey is { } expected && key != expected)
        {
            await WriteErrorAsync(ctx, StatusCodes.Status401Unauthorized,
                $"Incorrect API key provided: {Redact(key)}. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error", "invalid_api_key");
            return;
        }
        if (parseError is not null)
        {
            await WriteErrorAsync(ctx, StatusCodes.Status400BadRequest, parseError, "invalid_request_error", null);
            return;
        }
        if (FailWith?.Invoke(request) is { } status)
        {
            if (RetryAfter is { } retryAfter)
            {
                ctx.Response.Headers["retry-after-ms"] = ((long)retryAfter.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
                ctx.Response.Headers.RetryAfter = ((long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            }
            var (message, type, code) = status switch
            {
                429 => ("Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
                >= 500 => ("The server had an error while processing your request. Sorry about that!", "server_error", (string?)null),
                _ => ($"Scripted failure with status {status}.", "invalid_request_error", null),
            };
            await WriteErrorAsync(ctx, status, message, type, code);
            return;
        }

        if (!_replies.TryDequeue(out var reply))
        {
            reply = ScriptedReply.Text("echo: " + (request.Messages.LastOrDefault(m => m.Role == "user")?.Content ?? ""));
        }
        var id = "chatcmpl-" + RandomId(29);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var toolCalls = reply.Calls.Select(c => (Id: "call_" + RandomId(24), c.Name, c.Arguments)).ToList();
        var promptTokens = request.Messages.Sum(m => CountWords(m.Content) + m.ToolCalls.Sum(t => CountWords(t.Arguments)));
        var completionTokens = CountWords(reply.Content) + toolCalls.Sum(t => CountWords(t.Arguments));

        if (request.Stream)
        {
            await StreamAsync(ctx, request, reply, toolCalls, id, created, promptTokens, completionTokens);
            return;
        }

        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.ContentType = "application/json";
        var json = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", created);
            w.WriteString("model", request.Model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", reply.Content);
            w.WriteNull("refusal");
            if (toolCalls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (var call in toolCalls)
                {
                    w.WriteStartObject();
                    w.WriteString("id", call.Id);
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", call.Name);
                    w.WriteString("arguments", call.Arguments);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteStartArray("annotations");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", toolCalls.Count > 0 ? "tool_calls" : "stop");
            w.WriteEndObject();
            w.WriteEndArray();
            WriteUsage(w, promptTokens, completionTokens);
            w.WriteString("service_tier", "default");
            w.WriteString("system_fingerprint", SystemFingerprint);
            w.WriteEndObject();
        });
        await ctx.Response.Body.WriteAsync(json, ct);
    }

    private const string SystemFingerprint = "fp_cmp_test";

    private async Task StreamAsync(
        HttpContext ctx, RecordedRequest request, ScriptedReply reply, List<(string Id, string Name, string Arguments)> toolCalls,
        string id, long created, int promptTokens, int completionTokens)
    {
        var ct = ctx.RequestAborted;
        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.ContentType = "text/event-stream; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-cache";

        byte[] Chunk(Action<Utf8JsonWriter>? delta, string? finishReason, bool usage = false) => Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "chat.completion.chunk");
            w.WriteNumber("created", created);
            w.WriteString("model", request.Model);
            w.WriteString("service_tier", "default");
            w.WriteString("system_fingerprint", SystemFingerprint);
            w.WriteStartArray("choices");
            if (delta is not null)
            {
                w.WriteStartObject();
                w.WriteNumber("index", 0);
                w.WriteStartObject("delta");
                delta(w);
                w.WriteEndObject();
                w.WriteNull("logprobs");
                if (finishReason is null)
                {
                    w.WriteNull("finish_reason");
                }
                else
                {
                    w.WriteString("finish_reason", finishReason);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (usage)
            {
                WriteUsage(w, promptTokens, completionTokens);
            }
            else if (request.IncludeUsage)
            {
                w.WriteNull("usage");
            }
            w.WriteEndObject();
        });

        var events = new List<byte[]>();
        if (toolCalls.Count == 0)
        {
            events.Add(Chunk(w =>
            {
                w.WriteString("role", "assistant");
                w.WriteString("content", "");
                w.WriteNull("refusal");
            }, null));
            foreach (var piece in SplitWords(reply.Content ?? ""))
            {
                events.Add(Chunk(w => w.WriteString("content", piece), null));
            }
            events.Add(Chunk(_ => { }, "stop"));
        }
        else
        {
            events.Add(Chunk(w =>
            {
                w.WriteString("role", "assistant");
                w.WriteNull("content");
                w.WriteNull("refusal");
            }, null));
            for (var i = 0; i < toolCalls.Count; i++)
            {
                var index = i;
                var call = toolCalls[i];
                events.Add(Chunk(w =>
                {
                    w.WriteStartArray("tool_calls");
                    w.WriteStartObject();
                    w.WriteNumber("index", index);
                    w.WriteString("id", call.Id);
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", call.Name);
                    w.WriteString("arguments", "");
                    w.WriteEndObject();
                    w.WriteEndObject();
                    w.WriteEndArray();
                }, null));
                events.Add(Chunk(w =>
                {
                    w.WriteStartArray("tool_calls");
                    w.WriteStartObject();
                    w.WriteNumber("index", index);
                    w.WriteStartObject("function");
                    w.WriteString("arguments", call.Arguments);
                    w.WriteEndObject();
                    w.WriteEndObject();
                    w.WriteEndArray();
                }, null));
            }
            events.Add(Chunk(_ => { }, "tool_calls"));
        }
        if (request.IncludeUsage)
        {
            events.Add(Chunk(null, null, usage: true));
        }

        try
        {
            await ctx.Response.StartAsync(ct);
            foreach (var payload in events)
            {
                if (ChunkDelay > TimeSpan.Zero)
                {
                    await Task.Delay(ChunkDelay, ct);
                }
                await WriteEventAsync(ctx.Response, payload, ct);
            }
            await WriteEventAsync(ctx.Response, "[DONE]"u8.ToArray(), ct);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref _abortedStreams);
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, byte[] payload, CancellationToken ct)
    {
        await response.Body.WriteAsync("data: "u8.ToArray(), ct);
        await response.Body.WriteAsync(payload, ct);
        await response.Body.WriteAsync("\n\n"u8.ToArray(), ct);
        await response.Body.FlushAsync(ct);
    }

    private static async Task WriteErrorAsync(HttpContext ctx, int status, string message, string type, string? code)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        var json = Json(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            w.WriteNull("param");
            w.WriteString("code", code);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        await ctx.Response.Body.WriteAsync(json, ctx.RequestAborted);
    }

    private static void WriteUsage(Utf8JsonWriter w, int promptTokens, int completionTokens)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", promptTokens);
        w.WriteNumber("completion_tokens", completionTokens);
        w.WriteNumber("total_tokens", promptTokens + completionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", 0);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", 0);
        w.WriteNumber("audio_tokens", 0);
        w.WriteNumber("accepted_prediction_tokens", 0);
        w.WriteNumber("rejected_prediction_tokens", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(writer);
        }
        return buffer.ToArray();
    }

    /// <summary>Word-sized pieces that concatenate back to <paramref name="text"/> (each word keeps its leading whitespace).</summary>
    internal static List<string> SplitWords(string text)
    {
        var pieces = new List<string>();
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            while (i < text.Length && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            pieces.Add(text[start..i]);
            start = i;
        }
        return pieces;
    }

    internal static int CountWords(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private static string RandomId(int length) =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length);

    private static string Redact(string key) => key.Length <= 8 ? "****" : key[..3] + "*****" + key[^4..];
}

/// <summary>What the server answers to one request: text, or one or more function tool calls.</summary>
public sealed class ScriptedReply
{
    private ScriptedReply(string? content, IReadOnlyList<ScriptedToolCall> calls)
    {
        Content = content;
        Calls = calls;
    }

    /// <summary>The assistant's text; null for a tool-call reply.</summary>
    public string? Content { get; }

    /// <summary>The tool calls, empty for a text reply.</summary>
    public IReadOnlyList<ScriptedToolCall> Calls { get; }

    public static ScriptedReply Text(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(text, []);
    }

    /// <summary>Tool calls, each a function name and its JSON arguments; ids ("call_…") are generated when sent.</summary>
    public static ScriptedReply ToolCalls(params (string Name, string Arguments)[] calls)
    {
        if (calls.Length == 0)
        {
            throw new ArgumentException("At least one tool call is needed.", nameof(calls));
        }
        return new(null, [.. calls.Select(c => new ScriptedToolCall(c.Name, c.Arguments))]);
    }
}

public sealed record ScriptedToolCall(string Name, string Arguments);

/// <summary>One request as the server received it.</summary>
public sealed record RecordedRequest(
    string Model,
    IReadOnlyList<RecordedMessage> Messages,
    IReadOnlyList<string> Tools,
    bool Stream,
    bool IncludeUsage,
    string? ResponseFormat,
    string? ResponseFormatType,
    string RawBody,
    string? Authorization)
{
    /// <summary>Parses a request body leniently; returns an error message (OpenAI's 400 text) when it is not a valid request.</summary>
    internal static (RecordedRequest Request, string? Error) Parse(string body, string? authorization)
    {
        var empty = new RecordedRequest("", [], [], false, false, null, null, body, authorization);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return (empty, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (empty, "Invalid request body: expected a JSON object.");
            }
            var model = Str(root, "model") ?? "";
            var messages = new List<RecordedMessage>();
            if (root.TryGetProperty("messages", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var m in list.EnumerateArray())
                {
                    var calls = new List<RecordedToolCall>();
                    if (m.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var c in tc.EnumerateArray())
                        {
                            var function = c.TryGetProperty("function", out var f) ? f : default;
                            calls.Add(new RecordedToolCall(
                                Str(c, "id") ?? "",
                                function.ValueKind == JsonValueKind.Object ? Str(function, "name") ?? "" : "",
                                function.ValueKind == JsonValueKind.Object ? Str(function, "arguments") ?? "" : ""));
                        }
                    }
                    messages.Add(new RecordedMessage(
                        Str(m, "role") ?? "",
                        m.TryGetProperty("content", out var content) ? ContentText(content) : null,
                        Str(m, "tool_call_id"),
                        calls));
                }
            }
            var tools = new List<string>();
            if (root.TryGetProperty("tools", out var toolList) && toolList.ValueKind == JsonValueKind.Array)
            {
                foreach (var t in toolList.EnumerateArray())
                {
                    if (t.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object && Str(f, "name") is { } name)
                    {
                        tools.Add(name);
                    }
                }
            }
            var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
                && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
            string? responseFormat = null;
            string? responseFormatType = null;
            if (root.TryGetProperty("response_format", out var rf) && rf.ValueKind != JsonValueKind.Null)
            {
                responseFormat = rf.GetRawText();
                responseFormatType = rf.ValueKind == JsonValueKind.Object ? Str(rf, "type") : null;
            }
            var request = new RecordedRequest(model, messages, tools, stream, includeUsage, responseFormat, responseFormatType, body, authorization);
            if (model.Length == 0)
            {
                return (request, "you must provide a model parameter");
            }
            if (messages.Count == 0)
            {
                return (request, "[] is too short - 'messages'");
            }
            return (request, null);
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Content is either a string or an array of parts; text parts are concatenated.</summary>
    private static string? ContentText(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString(),
        JsonValueKind.Array => string.Concat(content.EnumerateArray()
            .Where(p => p.ValueKind == JsonValueKind.Object && Str(p, "type") == "text")
            .Select(p => Str(p, "text"))),
        _ => null,
    };
}

/// <summary>One message of a recorded request.</summary>
public sealed record RecordedMessage(string Role, string? Content, string? ToolCallId, IReadOnlyList<RecordedToolCall> ToolCalls);

/// <summary>A tool call an assistant message in a recorded request carries.</summary>
public sealed record RecordedToolCall(string Id, string Name, string Arguments);
