using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cmp.Web.Features.Gateway;

public sealed record InvokeBody(string? Input, string? SessionId, bool? Stream);
public sealed record GatewayUsage(long InputTokens, long OutputTokens, long ElapsedMs);
public sealed record GatewayAnswer(string Output, string SessionId, string RequestId, GatewayUsage Usage);

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
    public const string IdempotencyInProgress = ProblemTypes.Prefix + "idempotency-in-progress";
    public const string IdempotencyKeyReused = ProblemTypes.Prefix + "idempotency-key-reused";
}

/// <summary>
/// The agent gateway: <c>POST /api/agent-gateway/invoke/</c> (secret key or widget session token, authenticated by
/// the handlers of <see cref="GatewayAuth"/>; JSON or server-sent events), and <c>POST /api/agent-gateway/widget-session/</c> for
/// browsers. The config, flow version and persona come from the credential, never from the body. Before a run:
/// rate limits, the Idempotency-Key's reservation, the cap's reservation, in that order; then
/// <see cref="GatewayRun"/> runs and meters the call exactly once, whichever way the answer leaves.
/// </summary>
public static class GatewayEndpoints
{
    public static IServiceCollection AddGateway(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System); // the keep-alive timer and the cache's clock; tests move it by hand
        services.AddSingleton<KeyRateLimiter>();
        services.TryAddSingleton<IKeyRateLimiter>(sp => sp.GetRequiredService<KeyRateLimiter>()); // AddRedis shares it across processes
        services.AddSingleton<GatewayDirectory>();
        services.AddSingleton<WidgetSessions>();
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<IdempotencySweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<IdempotencySweeper>());
        services.AddSingleton<TurnWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<TurnWriter>());
        return services;
    }

    public static IEndpointRouteBuilder MapGatewayEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/agent-gateway").WithTags("Gateway").AllowAnonymous(); // the gateway's own credentials, not users'
        g.MapPost("/invoke/", InvokeAsync).WithName("InvokeAgent").AddEndpointFilter(GatewayAuth.AuthenticateAsync);
        g.MapPost("/widget-session/", WidgetSessions.OpenAsync).WithName("CreateWidgetSession").RequireRateLimiting(RateLimits.Public);
        g.MapMethods("/{**rest}", ["OPTIONS"], PreflightAsync).WithName("GatewayPreflight").ExcludeFromDescription();
        return app;
    }

    /// <summary>A preflight is answered only for an origin that some agent config allows; the real call is checked again.</summary>
    private static async Task<IResult> PreflightAsync(HttpContext ctx, CmpDbContext db, GatewayDirectory directory, CancellationToken ct)
    {
        var origin = ctx.Request.Headers.Origin.ToString();
        var host = WidgetSessions.OriginHost(origin);
        ctx.Response.Headers.Vary = "Origin";
        if (host is null || !WidgetSessions.HostAllowed(host, await directory.AllowedPatternsAsync(db, ct)))
        {
            return Results.StatusCode(403);
        }
        WidgetSessions.Cors(ctx, origin);
        ctx.Response.Headers.AccessControlAllowMethods = "POST, OPTIONS";
        ctx.Response.Headers.AccessControlAllowHeaders = "Content-Type, Authorization, Idempotency-Key, Accept";
        ctx.Response.Headers.AccessControlMaxAge = "600";
        return Results.NoContent();
    }

    internal static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    private static async Task<IResult> InvokeAsync(
        HttpContext ctx, CmpDbContext db, IKeyRateLimiter limiter, IdempotencyStore idempotency, CapReservations caps, GatewayDirectory directory,
        IConfiguration configuration, TimeProvider time, CancellationToken ct)
    {
        var caller = ctx.Caller();
        var resource = caller.Config.Resource;
        if (resource.State != ResourceState.Ok)
        {
            return Problems.Create(403, GatewayProblems.ResourceNotActive, "This agent is not active.", $"The subscription is {resource.State.Screaming()}; its keys no longer work.");
        }
        if (resource.Agent.State is OfferingState.Paused or OfferingState.Archived)
        {
            return Problems.Create(403, GatewayProblems.OfferingPaused, "The seller has paused this agent.", $"The offering is {resource.Agent.State.Screaming()}.");
        }

        var perMinute = resource.Plan.RateLimitPerMinute ?? configuration.GetValue("Gateway:RateLimitPerMinute", 60);
        var visitorPerMinute = Math.Min(perMinute, configuration.GetValue("Gateway:WidgetVisitorPerMinute", 20));
        var decision = await limiter.AcquireAsync(caller.Buckets(perMinute, visitorPerMinute));
        decision.WriteHeaders(ctx);
        if (!decision.Allowed)
        {
            return Problems.Create(429, ProblemTypes.RateLimited, "Too many requests.", caller.Widget
                ? $"This conversation or this agent's subscription is over its limit ({visitorPerMinute} a minute per visitor, {perMinute} per subscription); retry after {decision.RetryAfterSeconds} s."
                : $"This key or this agent's subscription is over its limit of {perMinute} requests a minute (all keys of a subscription share it); retry after {decision.RetryAfterSeconds} s.");
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
        var session = caller.Widget ? caller.Conversation : errors.Text("session_id", body?.SessionId, 200);
        var idempotencyKey = ctx.Request.Headers["Idempotency-Key"].ToString();
        if (idempotencyKey.Length > 200)
        {
            errors.Add("Idempotency-Key", "At most 200 characters.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var stream = body?.Stream == true || ctx.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);

        Guid? reservedKey = null;
        if (idempotencyKey.Length > 0)
        {
            switch (await idempotency.ReserveAsync(db, caller.IdempotencyScope, idempotencyKey, IdempotencyStore.Fingerprint(input!, session), ct))
            {
                case IdempotencyOutcome.Replay replay:
                    ctx.Response.Headers["Idempotent-Replayed"] = "true";
                    return stream ? new SseReplay(replay.Response) : Results.Content(replay.Response, "application/json", Encoding.UTF8, 200);
                case IdempotencyOutcome.InProgress:
                    return Problems.Create(409, GatewayProblems.IdempotencyInProgress, "A request with this Idempotency-Key is still running.",
                        "Wait for it to finish, then retry with the same key to get its answer.");
                case IdempotencyOutcome.Mismatch:
                    return Problems.Create(422, GatewayProblems.IdempotencyKeyReused, "This Idempotency-Key was used for another request.",
                        "An Idempotency-Key stands for one request (its input and session): use a new key for a new request.");
                case IdempotencyOutcome.Reserved reserved:
                    reservedKey = reserved.RecordId;
                    break;
            }
        }

        CapReservation? cap = null;
        if (await directory.LimitAsync(db, resource.PlanId, ct) is { } limit)
        {
            cap = await caps.TryReserveAsync(db, resource.Id, resource.PlanId, limit, ct);
            if (cap is null)
            {
                if (reservedKey is { } id)
                {
                    await idempotency.ReleaseAsync(db, id);
                }
                var now = time.GetUtcNow().UtcDateTime;
                ctx.Response.Headers.RetryAfter = ((int)Math.Ceiling((CapReservations.NextPeriodStart(now) - now).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return Problems.Create(429, GatewayProblems.LimitReached, "The monthly limit of the plan is reached.",
                    $"The plan includes {limit.Describe()} a month and they are used up; calls work again next month or after a plan change.");
            }
        }

        var run = await GatewayRun.PrepareAsync(ctx, db, caller, input!, session, reservedKey, cap, ct);
        return stream
            ? new SseResult(run, TimeSpan.FromSeconds(Math.Max(0.01, configuration.GetValue("Gateway:KeepAliveSeconds", 15.0))))
            : await run.AnswerJsonAsync();
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
}
