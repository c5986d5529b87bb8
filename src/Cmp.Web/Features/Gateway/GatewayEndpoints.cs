using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cmp.Web.Features.Gateway;

public sealed record InvokeBody(string? Input, string? SessionId, bool? Stream);
public sealed record WidgetSessionBody(string? WidgetId, string? ApiKey);
public sealed record WidgetLook(string AgentName, string Greeting, string PrimaryColor, string SecondaryColor, string AvatarUrl, string Position, string Theme);
public sealed record WidgetSessionDto(string Token, DateTime ExpiresAt, int ExpiresIn, WidgetLook Config);
public sealed record GatewayUsage(long InputTokens, long OutputTokens, long ElapsedMs);
public sealed record GatewayAnswer(string Output, string SessionId, string RequestId, GatewayUsage Usage);
public sealed record UsageTotals(long Invocations, long InputTokens, long OutputTokens);
public sealed record UsageDay(string Date, long Invocations, long InputTokens, long OutputTokens);
public sealed record UsageKey(string? KeyUuid, string Name, long Invocations);
public sealed record UsageReport(UsageTotals Total, IReadOnlyList<UsageDay> Days, IReadOnlyList<UsageKey> Keys);

/// <summary>Problem types of the gateway, stable for clients.</summary>
public static class GatewayProblems
{
    public const string InvalidApiKey = ProblemTypes.Prefix + "invalid-api-key";
    public const string ResourceNotActive = ProblemTypes.Prefix + "resource-not-active";
    public const string OfferingPaused = ProblemTypes.Prefix + "offering-paused";
    public const string OriginNotAllowed = ProblemTypes.Prefix + "origin-not-allowed";
    public const string LimitReached = ProblemTypes.Prefix + "limit-reached";
    public const string SecretKeyInBrowser = ProblemTypes.Prefix + "secret-key-in-browser";
    public const string AgentFailed = ProblemTypes.Prefix + "agent-failed";
}

/// <summary>
/// The agent gateway: <c>POST /api/agent-gateway/invoke/</c> (secret key or widget session token; JSON or
/// server-sent events), and <c>POST /api/agent-gateway/widget-session/</c> for browsers. The config, flow
/// version and persona come from the key, never from the body. Each accepted call is limited, then metered
/// exactly once, in the same transaction as its conversation turn.
/// </summary>
public static class GatewayEndpoints
{
    public const string WidgetTokenPrefix = "wst_";
    public static readonly TimeSpan WidgetSessionLifetime = TimeSpan.FromMinutes(30);

    public static IServiceCollection AddGateway(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System); // the keep-alive timer and the cache's clock; tests move it by hand
        services.AddSingleton<KeyRateLimiter>();
        services.TryAddSingleton<IKeyRateLimiter>(sp => sp.GetRequiredService<KeyRateLimiter>()); // AddRedis shares it across processes
        services.AddSingleton<GatewayDirectory>();
        services.AddSingleton<TurnWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<TurnWriter>());
        return services;
    }

    public static IEndpointRouteBuilder MapGatewayEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/agent-gateway").WithTags("Gateway").AllowAnonymous();
        g.MapPost("/invoke/", InvokeAsync).WithName("InvokeAgent");
        g.MapPost("/widget-session/", WidgetSessionAsync).WithName("CreateWidgetSession").RequireRateLimiting(RateLimits.Public);
        g.MapMethods("/{**rest}", ["OPTIONS"], PreflightAsync).WithName("GatewayPreflight").ExcludeFromDescription();
        app.MapGet("/api/customer-agent-configs/{uuid}/usage/", UsageAsync).WithTags("Agent configs").WithName("GetAgentConfigUsage").RequireAuthorization();
        return app;
    }

    // ---- Origins ------------------------------------------------------------------------

    /// <summary>The host of an Origin header; null for a missing, "null" or malformed origin.</summary>
    internal static string? OriginHost(string? origin) =>
        !string.IsNullOrEmpty(origin) && origin != "null" && Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) && uri.AbsolutePath == "/"
            ? (uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host).ToLowerInvariant()
            : null;

    /// <summary>Exact host, or <c>*.example.com</c> for its subdomains; suffix tricks such as acme.com.evil.com never match.</summary>
    internal static bool HostAllowed(string host, IEnumerable<string> allowed) => allowed.Any(pattern =>
        pattern.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(pattern[1..], StringComparison.Ordinal) && host.Length > pattern.Length - 1
            : host == pattern);

    private static void Cors(HttpContext ctx, string origin)
    {
        ctx.Response.Headers.AccessControlAllowOrigin = origin;
        ctx.Response.Headers.Vary = "Origin";
        ctx.Response.Headers.AccessControlExposeHeaders = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset";
    }

    /// <summary>A preflight is answered only for an origin that some agent config allows; the real call is checked again.</summary>
    private static async Task<IResult> PreflightAsync(HttpContext ctx, CmpDbContext db, GatewayDirectory directory, CancellationToken ct)
    {
        var origin = ctx.Request.Headers.Origin.ToString();
        var host = OriginHost(origin);
        ctx.Response.Headers.Vary = "Origin";
        if (host is null)
        {
            return Results.StatusCode(403);
        }
        if (!HostAllowed(host, await directory.AllowedPatternsAsync(db, ct)))
        {
            return Results.StatusCode(403);
        }
        Cors(ctx, origin);
        ctx.Response.Headers.AccessControlAllowMethods = "POST, OPTIONS";
        ctx.Response.Headers.AccessControlAllowHeaders = "Content-Type, Authorization, Idempotency-Key, Accept";
        ctx.Response.Headers.AccessControlMaxAge = "600";
        return Results.NoContent();
    }

    // ---- Widget sessions ------------------------------------------------------------------

    private static ITimeLimitedDataProtector WidgetProtector(IDataProtectionProvider protection) =>
        protection.CreateProtector("Cmp.Gateway.WidgetSession.v1").ToTimeLimitedDataProtector();

    /// <summary>What a widget session token carries: the config, the origin it was opened from and the publishable key that opened it.</summary>
    private sealed record WidgetClaims(Guid C, string O, Guid K);

    private static async Task<Results<Ok<WidgetSessionDto>, ProblemHttpResult>> WidgetSessionAsync(
        WidgetSessionBody body, HttpContext ctx, CmpDbContext db, IDataProtectionProvider protection, CancellationToken ct)
    {
        var origin = ctx.Request.Headers.Origin.ToString();
        var key = body.ApiKey?.Trim() ?? "";
        if (key.StartsWith("ar_sk_", StringComparison.Ordinal))
        {
            return Problems.Create(400, GatewayProblems.SecretKeyInBrowser, "A secret key was sent from a browser.",
                "Never put a secret key in a web page: revoke it, and create a publishable key (kind: publishable) for the widget.");
        }
        if (!Refs.TryParse(body.WidgetId, out var widgetId) || !key.StartsWith("ar_pk_", StringComparison.Ordinal))
        {
            return Problems.Unauthorized("Give the widget_id and a publishable key (ar_pk_live_…).", GatewayProblems.InvalidApiKey);
        }
        var hash = SecretTokens.Hash(key);
        var now = DateTime.UtcNow;
        var row = await db.ApiKeys.AsNoTracking().Where(k => k.Hash == hash && k.Kind == ApiKeyKind.Publishable && k.ConfigId == widgetId)
            .Select(k => new { k.Id, k.RevokedAt, k.ExpiresAt, Config = k.Config, State = k.Config.Resource.State, AgentState = k.Config.Resource.Agent.State })
            .FirstOrDefaultAsync(ct);
        if (row is null || row.RevokedAt is not null || row.ExpiresAt <= now)
        {
            return Problems.Unauthorized("The publishable key is unknown, revoked, expired, or belongs to another widget.", GatewayProblems.InvalidApiKey);
        }
        var host = OriginHost(origin);
        if (host is null || !HostAllowed(host, row.Config.AllowedDomainList))
        {
            return Problems.Create(403, GatewayProblems.OriginNotAllowed, "This website may not use the widget.",
                host is null ? "The request has no usable Origin." : $"{host} is not in the agent's allowed_domains.");
        }
        Cors(ctx, origin);
        if (row.State != ResourceState.Ok)
        {
            return Problems.Create(403, GatewayProblems.ResourceNotActive, "This agent is not active.", $"The subscription is {row.State.Screaming()}.");
        }
        var expires = now + WidgetSessionLifetime;
        var token = WidgetTokenPrefix + WidgetProtector(ctx.RequestServices.GetRequiredService<IDataProtectionProvider>())
            .Protect(JsonSerializer.Serialize(new WidgetClaims(row.Config.Id, origin, row.Id)), expires);
        var c = row.Config;
        return TypedResults.Ok(new WidgetSessionDto(token, expires, (int)WidgetSessionLifetime.TotalSeconds,
            new WidgetLook(c.AgentName, c.Greeting, c.PrimaryColor, c.SecondaryColor, c.AvatarUrl, c.Position, c.Theme)));
    }

    // ---- Invoke ---------------------------------------------------------------------------

    private sealed record Caller(CustomerAgentConfig Config, Guid? KeyId, string RateKey, GatewayDirectory Directory, TurnWriter Writer);

    private static string? Credential(HttpRequest request)
    {
        if (request.Headers["X-API-Key"].ToString() is { Length: > 0 } apiKey)
        {
            return apiKey.Trim();
        }
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }

    /// <summary>Finds the config behind a secret key or a widget session token (bound to its origin), or says why not.</summary>
    private static async Task<(Caller? Caller, ProblemHttpResult? Problem)> AuthenticateAsync(
        HttpContext ctx, CmpDbContext db, IDataProtectionProvider protection, GatewayDirectory directory, TurnWriter writer, CancellationToken ct)
    {
        var credential = Credential(ctx.Request);
        if (string.IsNullOrEmpty(credential) || credential.Length > 4000)
        {
            return (null, Problems.Unauthorized("Send a secret key as 'Authorization: Bearer ar_sk_live_…' or 'X-API-Key', or a widget session token.", GatewayProblems.InvalidApiKey));
        }
        var now = DateTime.UtcNow;
        if (credential.StartsWith(WidgetTokenPrefix, StringComparison.Ordinal))
        {
            WidgetClaims? claims;
            try
            {
                claims = JsonSerializer.Deserialize<WidgetClaims>(WidgetProtector(protection).Unprotect(credential[WidgetTokenPrefix.Length..]));
            }
            catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException)
            {
                return (null, Problems.Unauthorized("The widget session is invalid or has expired; open a new one.", GatewayProblems.InvalidApiKey));
            }
            var origin = ctx.Request.Headers.Origin.ToString();
            if (claims is null || origin != claims.O)
            {
                return (null, Problems.Create(403, GatewayProblems.OriginNotAllowed, "Wrong origin.", "The widget session belongs to another website."));
            }
            // The publishable key that opened the session must still work: revoking it ends its sessions at once.
            if (!await directory.KeyUsableAsync(db, claims.K, now, ct))
            {
                return (null, Problems.Unauthorized("The widget's publishable key was revoked or has expired.", GatewayProblems.InvalidApiKey));
            }
            var widgetConfig = await directory.ConfigAsync(db, claims.C, ct);
            var host = OriginHost(origin);
            if (widgetConfig is null || host is null || !HostAllowed(host, widgetConfig.AllowedDomainList))
            {
                return (null, Problems.Create(403, GatewayProblems.OriginNotAllowed, "This website may not use the widget.", "The origin is no longer in the agent's allowed_domains."));
            }
            Cors(ctx, origin);
            return (new Caller(widgetConfig, null, "widget:" + widgetConfig.Id.ToString("N"), directory, writer), null);
        }
        var hash = SecretTokens.Hash(credential);
        var key = await directory.KeyAsync(db, hash, ct);
        if (key is null || !SecretTokens.FixedTimeEquals(key.Hash, hash) || key.RevokedAt is not null || key.ExpiresAt <= now)
        {
            return (null, Problems.Unauthorized("The API key is unknown, revoked or expired.", GatewayProblems.InvalidApiKey));
        }
        if (key.Kind != ApiKeyKind.Secret)
        {
            return (null, Problems.Unauthorized("A publishable key only opens widget sessions (POST /api/agent-gateway/widget-session/); servers call with a secret key.", GatewayProblems.InvalidApiKey));
        }
        return (new Caller(key.Config, key.Id, "key:" + key.Id.ToString("N"), directory, writer), null);
    }

    /// <summary>How long an Idempotency-Key replays its first answer.</summary>
    internal static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    private static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    private static async Task<IResult> InvokeAsync(
        HttpContext ctx, CmpDbContext db, IDataProtectionProvider protection, IKeyRateLimiter limiter, IAgentRuntime runtime, GatewayDirectory directory,
        TurnWriter writer, IConfiguration configuration, CancellationToken ct)
    {
        var (caller, problem) = await AuthenticateAsync(ctx, db, protection, directory, writer, ct);
        if (caller is null)
        {
            return problem!;
        }
        var config = caller.Config;
        var resource = config.Resource;
        if (resource.State != ResourceState.Ok)
        {
            return Problems.Create(403, GatewayProblems.ResourceNotActive, "This agent is not active.", $"The subscription is {resource.State.Screaming()}; its keys no longer work.");
        }
        if (resource.Agent.State is OfferingState.Paused or OfferingState.Archived)
        {
            return Problems.Create(403, GatewayProblems.OfferingPaused, "The seller has paused this agent.", $"The offering is {resource.Agent.State.Screaming()}.");
        }

        InvokeBody? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<InvokeBody>(ctx.Request.Body, Snake, ct);
        }
        catch (JsonException)
        {
            return Problems.Create(400, ProblemTypes.MalformedRequest, "The request could not be read.", "The body must be JSON: {\"input\": \"…\", \"session_id\": \"…\", \"stream\": false}.");
        }
        var errors = new FieldErrors();
        var input = errors.Text("input", body?.Input, 10000, required: true);
        var session = errors.Text("session_id", body?.SessionId, 200);
        var idempotencyKey = ctx.Request.Headers["Idempotency-Key"].ToString();
        if (idempotencyKey.Length > 200)
        {
            errors.Add("Idempotency-Key", "At most 200 characters.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }

        // A retry of an answered call within 24 h returns the first answer and is not counted again. Past that the key
        // is released (the old record keeps its usage, not the key), so the call runs and is counted as a new one.
        if (idempotencyKey.Length > 0
            && await db.UsageRecords.AsNoTracking().Where(u => u.ConfigId == config.Id && u.IdempotencyKey == idempotencyKey)
                .Select(u => new { u.Id, u.CreatedAt, u.Response }).FirstOrDefaultAsync(ct) is { } stored)
        {
            if (stored.CreatedAt > DateTime.UtcNow - IdempotencyWindow && stored.Response is not null)
            {
                ctx.Response.Headers["Idempotent-Replayed"] = "true";
                return Results.Content(stored.Response, "application/json", Encoding.UTF8, 200);
            }
            await db.UsageRecords.Where(u => u.Id == stored.Id && u.IdempotencyKey == idempotencyKey)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.IdempotencyKey, (string?)null).SetProperty(u => u.Response, (string?)null), ct);
        }

        var perMinute = resource.Plan.RateLimitPerMinute ?? configuration.GetValue("Gateway:RateLimitPerMinute", 60);
        var decision = await limiter.AcquireAsync(caller.RateKey, perMinute);
        decision.WriteHeaders(ctx);
        if (!decision.Allowed)
        {
            return Problems.Create(429, ProblemTypes.RateLimited, "Too many requests.", $"This key allows {perMinute} requests per minute; retry after {decision.RetryAfterSeconds} s.");
        }

        if (await CapReachedAsync(db, directory, resource, ct) is { } cap)
        {
            var nextMonth = new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
            ctx.Response.Headers.RetryAfter = ((int)Math.Ceiling((nextMonth - DateTime.UtcNow).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Problems.Create(429, GatewayProblems.LimitReached, "The monthly limit of the plan is reached.",
                $"The plan includes {cap} per month and it is used up; calls work again next month or after a plan change.");
        }

        var sessionId = string.IsNullOrEmpty(session) ? Guid.NewGuid().ToString("N") : session;
        var requestId = Guid.CreateVersion7().ToString("N");
        var versionId = resource.FlowVersionId;
        var memory = new DbConversationMemory(db, "config:" + config.Id.ToString("N"));
        var flow = await directory.FlowAsync(db, versionId, ct);
        var context = new AgentVersionContext(resource.AgentId, versionId, flow.Json, flow.RemoteFlowId, await directory.SecretsAsync(db, resource.AgentId, ct));
        var request = new InvokeRequest(input!, sessionId, memory, await directory.FilesAsync(db, versionId, ct), Persona(config));
        var stream = body?.Stream == true || ctx.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);
        return stream
            ? new SseResult(db, runtime, context, request, caller, idempotencyKey, requestId,
                TimeSpan.FromSeconds(Math.Max(0.01, configuration.GetValue("Gateway:KeepAliveSeconds", 15.0))))
            : await RunSyncAsync(ctx, db, runtime, context, request, caller, idempotencyKey, requestId, ct);
    }

    /// <summary>The buyer's persona, added to the system text the model receives; the seller's prompt stays hidden.</summary>
    internal static string? Persona(CustomerAgentConfig c)
    {
        var parts = new List<string> { $"You are {c.AgentName}." };
        if (c.SystemPrompt.Length > 0)
        {
            parts.Add(c.SystemPrompt);
        }
        parts.Add($"Answer in a {c.Tone} tone.");
        return string.Join("\n", parts);
    }

    /// <summary>The LIMIT component's cap when this month's usage has reached it, else null.</summary>
    private static async Task<string?> CapReachedAsync(CmpDbContext db, GatewayDirectory directory, Resource resource, CancellationToken ct)
    {
        if (await directory.LimitAsync(db, resource.PlanId, ct) is not { } limit)
        {
            return null;
        }
        var amount = limit.Amount;
        var monthStart = new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var month = db.UsageRecords.Where(u => u.ResourceId == resource.Id && u.CreatedAt >= monthStart && u.Status == "ok");
        if (limit.Unit == "1k_tokens")
        {
            var tokens = await month.SumAsync(u => u.InputTokens + u.OutputTokens, ct);
            return tokens >= amount * 1000 ? $"{amount} thousand tokens" : null;
        }
        return await month.CountAsync(ct) >= amount ? $"{amount} invocations" : null;
    }

    private static async Task<IResult> RunSyncAsync(
        HttpContext ctx, CmpDbContext db, IAgentRuntime runtime, AgentVersionContext context, InvokeRequest request, Caller caller,
        string idempotencyKey, string requestId, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var result = await runtime.RunAsync(context, request, ct);
            var answer = new GatewayAnswer(result.Output, request.SessionId, requestId, new GatewayUsage(result.Usage.InputTokens, result.Usage.OutputTokens, clock.ElapsedMilliseconds));
            var json = JsonSerializer.Serialize(answer, Snake);
            if (await MeterAsync(db, caller, request, result, "ok", idempotencyKey, json, requestId, clock.ElapsedMilliseconds, ct) is { } replay)
            {
                ctx.Response.Headers["Idempotent-Replayed"] = "true";
                return Results.Content(replay, "application/json", Encoding.UTF8, 200);
            }
            return Results.Content(json, "application/json", Encoding.UTF8, 200);
        }
        catch (FlowRunException ex)
        {
            await MeterAsync(db, caller, request, null, "error", "", null, requestId, clock.ElapsedMilliseconds, CancellationToken.None);
            return Problems.Create(502, GatewayProblems.AgentFailed, "The agent could not answer.", ex.Reason);
        }
    }

    /// <summary>
    /// Writes the usage record and the conversation turn in one transaction (through the <see cref="TurnWriter"/>,
    /// which commits the turns of concurrent calls together): a crash loses or double-counts neither. A concurrent retry with the same Idempotency-Key loses the unique index
    /// race; it then answers the stored response (returned here) and counts nothing.
    /// </summary>
    private static async Task<string?> MeterAsync(
        CmpDbContext db, Caller caller, InvokeRequest request, FlowRunResult? result, string status, string idempotencyKey, string? response,
        string requestId, long elapsedMs, CancellationToken ct)
    {
        var messages = result is not null && request.Memory is DbConversationMemory memory ? memory.Rows(request.SessionId, result.NewMessages) : [];
        var usage = new UsageRecord
        {
            ConfigId = caller.Config.Id,
            ResourceId = caller.Config.ResourceId,
            ApiKeyId = caller.KeyId,
            SessionId = request.SessionId,
            RequestId = requestId,
            InputTokens = result?.Usage.InputTokens ?? 0,
            OutputTokens = result?.Usage.OutputTokens ?? 0,
            LatencyMs = elapsedMs,
            Status = status,
            IdempotencyKey = idempotencyKey.Length > 0 ? idempotencyKey : null,
            Response = idempotencyKey.Length > 0 ? response : null,
        };
        // Once the run is done the call is billed, even if the client has gone meanwhile: the work was done.
        if (!await caller.Writer.WriteAsync(new MeteredTurn(usage, messages)))
        {
            return await db.UsageRecords.AsNoTracking().Where(u => u.ConfigId == caller.Config.Id && u.IdempotencyKey == idempotencyKey)
                .Select(u => u.Response).FirstAsync(CancellationToken.None);
        }
        var now = DateTime.UtcNow;
        if (caller.KeyId is { } keyId && caller.Directory.ShouldTouch(keyId, now))
        {
            using (WriteWatchInterceptor.Unwatched())
            {
                await db.ApiKeys.Where(k => k.Id == keyId).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), CancellationToken.None);
            }
        }
        return null;
    }

    /// <summary>Server-sent events: <c>token</c> per chunk, then <c>end</c> with the answer, or <c>error</c> with a problem; a comment every 15 s (<c>Gateway:KeepAliveSeconds</c>) keeps proxies from closing the stream.</summary>
    private sealed class SseResult(
        CmpDbContext db, IAgentRuntime runtime, AgentVersionContext context, InvokeRequest request, Caller caller,
        string idempotencyKey, string requestId, TimeSpan keepAliveEvery) : IResult
    {

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            var ct = httpContext.RequestAborted;
            var gate = new SemaphoreSlim(1, 1);
            async Task WriteAsync(string text)
            {
                await gate.WaitAsync(CancellationToken.None);
                try
                {
                    await response.WriteAsync(text, CancellationToken.None);
                    await response.Body.FlushAsync(CancellationToken.None);
                }
                finally
                {
                    gate.Release();
                }
            }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // The timer starts before the stream opens, so its first tick is keepAliveEvery after the opening comment.
            using var timer = new PeriodicTimer(keepAliveEvery, httpContext.RequestServices.GetRequiredService<TimeProvider>());
            var keepAlive = Task.Run(async () =>
            {
                while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
                {
                    await WriteAsync(": keep-alive\n\n");
                }
            }, CancellationToken.None);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                await WriteAsync(": stream open\n\n");
                FlowRunResult? result = null;
                await foreach (var e in runtime.InvokeAsync(context, request, ct))
                {
                    if (e is FlowTokenEvent token)
                    {
                        await WriteAsync("event: token\ndata: " + JsonSerializer.Serialize(new { text = token.Text }) + "\n\n");
                    }
                    else if (e is FlowCompletedEvent done)
                    {
                        result = done.Result;
                    }
                }
                var answer = new GatewayAnswer(result!.Output, request.SessionId, requestId, new GatewayUsage(result.Usage.InputTokens, result.Usage.OutputTokens, clock.ElapsedMilliseconds));
                var json = JsonSerializer.Serialize(answer, Snake);
                var replay = await MeterAsync(db, caller, request, result, "ok", idempotencyKey, json, requestId, clock.ElapsedMilliseconds, CancellationToken.None);
                await WriteAsync("event: end\ndata: " + (replay ?? json) + "\n\n");
            }
            catch (FlowRunException ex)
            {
                await MeterAsync(db, caller, request, null, "error", "", null, requestId, clock.ElapsedMilliseconds, CancellationToken.None);
                var problem = new ProblemDetails { Status = 502, Type = GatewayProblems.AgentFailed, Title = "The agent could not answer.", Detail = ex.Reason };
                await WriteAsync("event: error\ndata: " + JsonSerializer.Serialize(problem, Snake) + "\n\n");
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The client left; nothing was answered, nothing is metered.
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

    // ---- Usage ----------------------------------------------------------------------------

    private static async Task<Results<Ok<UsageReport>, ProblemHttpResult>> UsageAsync(
        string uuid, string? from, string? to, CmpDbContext db, Access access, CancellationToken ct)
    {
        var config = await AgentConfigEndpoints.FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        var errors = new FieldErrors();
        static DateOnly? Parse(string? value, string field, FieldErrors errors)
        {
            if (value is null)
            {
                return null;
            }
            if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                return date;
            }
            errors.Add(field, "Use a date as YYYY-MM-DD.");
            return null;
        }
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var end = Parse(to, "to", errors) ?? today;
        var start = Parse(from, "from", errors) ?? end.AddDays(-29);
        if (!errors.Any && start > end)
        {
            errors.Add("from", "from must not be after to.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var startAt = start.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var endAt = end.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var records = await db.UsageRecords.AsNoTracking().Where(u => u.ConfigId == config.Id && u.CreatedAt >= startAt && u.CreatedAt < endAt)
            .Select(u => new { u.CreatedAt, u.InputTokens, u.OutputTokens, u.ApiKeyId }).ToListAsync(ct);
        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.ConfigId == config.Id).Select(k => new { k.Id, k.Name }).ToListAsync(ct);
        var days = records.GroupBy(r => DateOnly.FromDateTime(r.CreatedAt)).OrderBy(g => g.Key)
            .Select(g => new UsageDay(g.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), g.Count(), g.Sum(r => r.InputTokens), g.Sum(r => r.OutputTokens))).ToList();
        var byKey = records.GroupBy(r => r.ApiKeyId).Select(g => new UsageKey(g.Key?.Hex(), g.Key is { } id ? keys.FirstOrDefault(k => k.Id == id)?.Name ?? "" : "widget", g.Count()))
            .OrderByDescending(k => k.Invocations).ToList();
        return TypedResults.Ok(new UsageReport(new UsageTotals(records.Count, records.Sum(r => r.InputTokens), records.Sum(r => r.OutputTokens)), days, byKey));
    }
}
