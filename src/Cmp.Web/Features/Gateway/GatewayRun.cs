using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Gateway;

/// <summary>
/// One accepted call's run, and the one place a run is metered, for JSON and streamed answers alike. The run does not
/// depend on the client: it goes on when the client leaves, bounded by the run's time budget (no token is passed:
/// a graceful shutdown lets running calls finish, and registering every run on one shared token, the host's
/// stopping token, made concurrent calls contend for its lock), so every run that
/// reached a model is metered exactly once: <c>completed</c>, <c>client_closed</c> (the client left before the
/// answer's end; the answer is still stored, so a retry with its Idempotency-Key replays it) or <c>failed</c> (the
/// tokens really used). A run that failed before reaching any model cost nothing: its cap unit and its
/// Idempotency-Key are given back and nothing is metered.
/// </summary>
internal sealed class GatewayRun
{
    private readonly HttpContext _ctx;
    private readonly CmpDbContext _db;
    private readonly GatewayCaller _caller;
    private readonly IAgentRuntime _runtime;
    private readonly AgentVersionContext _context;
    private readonly InvokeRequest _request;
    private readonly DbConversationMemory _memory;
    private readonly Guid? _idempotencyRecord;
    private readonly CapReservation? _cap;

    private GatewayRun(HttpContext ctx, CmpDbContext db, GatewayCaller caller, AgentVersionContext context, InvokeRequest request,
        DbConversationMemory memory, Guid? idempotencyRecord, CapReservation? cap)
    {
        _ctx = ctx;
        _db = db;
        _caller = caller;
        _runtime = ctx.RequestServices.GetRequiredService<IAgentRuntime>();
        _context = context;
        _request = request;
        _memory = memory;
        _idempotencyRecord = idempotencyRecord;
        _cap = cap;
    }

    public string RequestId { get; } = Guid.CreateVersion7().ToString("N");

    /// <summary>Set when writing to the client failed: the answer did not arrive whole.</summary>
    public bool ClientGone { get; set; }

    /// <summary>Reads what the run needs (from the gateway's cache); on any failure the call's reservations are given back.</summary>
    public static async Task<GatewayRun> PrepareAsync(
        HttpContext ctx, CmpDbContext db, GatewayCaller caller, string input, string? session, Guid? idempotencyRecord, CapReservation? cap, CancellationToken ct)
    {
        try
        {
            var directory = ctx.RequestServices.GetRequiredService<GatewayDirectory>();
            var config = caller.Config;
            var resource = config.Resource;
            var versionId = resource.FlowVersionId;
            var memory = new DbConversationMemory(db, caller.MemoryScope);
            var flow = await directory.FlowAsync(db, versionId, ct);
            var context = new AgentVersionContext(resource.AgentId, versionId, flow.Json, flow.RemoteFlowId, await directory.SecretsAsync(db, resource.AgentId, ct));
            var request = new InvokeRequest(input, string.IsNullOrEmpty(session) ? Guid.NewGuid().ToString("N") : session, memory,
                await directory.FilesAsync(db, versionId, ct), GatewayEndpoints.Persona(config));
            return new GatewayRun(ctx, db, caller, context, request, memory, idempotencyRecord, cap);
        }
        catch
        {
            await ReleaseAsync(ctx, db, idempotencyRecord, cap);
            throw;
        }
    }

    /// <summary>Runs the flow and meters it; tokens go to <paramref name="onToken"/> as they stream (null: one answer, no streaming).</summary>
    public async Task<(string? Json, FlowRunException? Failure)> RunAsync(Func<string, Task>? onToken)
    {
        var clock = Stopwatch.StartNew();
        FlowRunResult result;
        try
        {
            if (onToken is null)
            {
                result = await _runtime.RunAsync(_context, _request, CancellationToken.None);
            }
            else
            {
                FlowRunResult? done = null;
                await foreach (var e in _runtime.InvokeAsync(_context, _request, CancellationToken.None))
                {
                    if (e is FlowTokenEvent token)
                    {
                        await onToken(token.Text);
                    }
                    else if (e is FlowCompletedEvent completed)
                    {
                        done = completed.Result;
                    }
                }
                result = done ?? throw new FlowRunException(null, null, "The agent ended without an answer.");
            }
        }
        catch (FlowRunException ex)
        {
            if (ex.ReachedModel)
            {
                // The model was called: the tokens it used are metered; the cap unit stays taken. The key is freed, so a retry runs again.
                await MeterAsync(UsageStatus.Failed, ex.Usage, clock.ElapsedMilliseconds, [], null);
                await ReleaseAsync(_ctx, _db, _idempotencyRecord, null);
            }
            else
            {
                await ReleaseAsync(_ctx, _db, _idempotencyRecord, _cap);
            }
            return (null, ex);
        }
        catch
        {
            // Something unexpected broke the run: nothing was answered, nothing is kept.
            await ReleaseAsync(_ctx, _db, _idempotencyRecord, _cap);
            throw;
        }
        var status = ClientGone || _ctx.RequestAborted.IsCancellationRequested ? UsageStatus.ClientClosed : UsageStatus.Completed;
        var answer = new GatewayAnswer(result.Output, _request.SessionId, RequestId, new GatewayUsage(result.Usage.InputTokens, result.Usage.OutputTokens, clock.ElapsedMilliseconds));
        var json = JsonSerializer.Serialize(answer, GatewayEndpoints.Snake);
        await MeterAsync(status, result.Usage, clock.ElapsedMilliseconds, _memory.Rows(_request.SessionId, result.NewMessages),
            _idempotencyRecord is { } id ? new IdempotencyCompletion(id, json) : null);
        return (json, null);
    }

    /// <summary>The one metering write: usage record, conversation turn and the Idempotency-Key's answer in one transaction.</summary>
    private async Task MeterAsync(UsageStatus status, TokenUsage tokens, long elapsedMs, IReadOnlyList<ConversationMessage> messages, IdempotencyCompletion? completion)
    {
        var services = _ctx.RequestServices;
        var usage = new UsageRecord
        {
            ConfigId = _caller.Config.Id,
            ResourceId = _caller.Config.ResourceId,
            PlanId = _caller.Config.Resource.PlanId,
            ApiKeyId = _caller.KeyId,
            Widget = _caller.Widget,
            SessionId = _request.SessionId,
            RequestId = RequestId,
            InputTokens = tokens.InputTokens,
            OutputTokens = tokens.OutputTokens,
            LatencyMs = elapsedMs,
            Status = status,
            CreatedAt = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime,
        };
        await services.GetRequiredService<TurnWriter>().WriteAsync(new MeteredTurn(usage, messages, completion));
        if (_cap is not null)
        {
            await services.GetRequiredService<CapReservations>().AddTokensAsync(_db, _cap, tokens.InputTokens + tokens.OutputTokens);
        }
        var now = DateTime.UtcNow;
        if (services.GetRequiredService<GatewayDirectory>().ShouldTouch(_caller.KeyId, now))
        {
            using (WriteWatchInterceptor.Unwatched())
            {
                await _db.ApiKeys.Where(k => k.Id == _caller.KeyId).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), CancellationToken.None);
            }
        }
    }

    private static async Task ReleaseAsync(HttpContext ctx, CmpDbContext db, Guid? idempotencyRecord, CapReservation? cap)
    {
        if (idempotencyRecord is { } id)
        {
            await ctx.RequestServices.GetRequiredService<IdempotencyStore>().ReleaseAsync(db, id);
        }
        if (cap is not null)
        {
            await ctx.RequestServices.GetRequiredService<CapReservations>().ReleaseAsync(db, cap);
        }
    }

    public static ProblemDetails Failure(FlowRunException ex) =>
        new() { Status = 502, Type = GatewayProblems.AgentFailed, Title = "The agent could not answer.", Detail = ex.Reason };

    /// <summary>The JSON answer: the whole answer object, or a 502 problem.</summary>
    public async Task<IResult> AnswerJsonAsync()
    {
        var (json, failure) = await RunAsync(null);
        return failure is null
            ? Results.Content(json, "application/json", Encoding.UTF8, 200)
            : TypedResults.Problem(Failure(failure));
    }
}

/// <summary>Server-sent events: <c>token</c> per chunk, then <c>end</c> with the answer, or <c>error</c> with a problem; a comment every 15 s (<c>Gateway:KeepAliveSeconds</c>) keeps proxies from closing the stream.</summary>
internal sealed class SseResult(GatewayRun run, TimeSpan keepAliveEvery) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        Sse.Start(response);
        var aborted = httpContext.RequestAborted;
        var gate = new SemaphoreSlim(1, 1);
        async Task WriteAsync(string text)
        {
            await gate.WaitAsync(CancellationToken.None);
            try
            {
                if (run.ClientGone || aborted.IsCancellationRequested)
                {
                    run.ClientGone = true; // the run goes on and is metered as client_closed; nothing more is written
                    return;
                }
                // Through the pipe, whose flush result says when the connection is gone (a Stream write to a closed
                // connection reports nothing). What the sockets' buffers took counts as delivered: TCP cannot tell more.
                var writer = response.BodyWriter;
                Encoding.UTF8.GetBytes(text, writer);
                var flushed = await writer.FlushAsync(CancellationToken.None);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    run.ClientGone = true;
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                run.ClientGone = true;
            }
            finally
            {
                gate.Release();
            }
        }
        using var stop = new CancellationTokenSource();
        // The timer starts before the stream opens, so its first tick is keepAliveEvery after the opening comment.
        using var timer = new PeriodicTimer(keepAliveEvery, httpContext.RequestServices.GetRequiredService<TimeProvider>());
        var keepAlive = Task.Run(async () =>
        {
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
            {
                await WriteAsync(": keep-alive\n\n");
            }
        }, CancellationToken.None);
        try
        {
            await WriteAsync(": stream open\n\n");
            var (json, failure) = await run.RunAsync(text => WriteAsync(Sse.Token(text)));
            // The status was decided when the run ended (before its record was written, so no answer leaves unmetered);
            // a client leaving between that moment and "end" has its answer stored and replayable.
            await WriteAsync(failure is null ? "event: end\ndata: " + json + "\n\n" : "event: error\ndata: " + JsonSerializer.Serialize(GatewayRun.Failure(failure), GatewayEndpoints.Snake) + "\n\n");
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await keepAlive;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}

/// <summary>A stored answer sent again as a stream (an Idempotency-Key's replay): the whole text as one token, then <c>end</c>.</summary>
internal sealed class SseReplay(string answerJson) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        Sse.Start(response);
        var output = JsonDocument.Parse(answerJson).RootElement.GetProperty("output").GetString() ?? "";
        await response.WriteAsync(Sse.Token(output) + "event: end\ndata: " + answerJson + "\n\n", httpContext.RequestAborted);
    }
}

internal static class Sse
{
    public static void Start(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public static string Token(string text) => "event: token\ndata: " + JsonSerializer.Serialize(new { text }) + "\n\n";
}
