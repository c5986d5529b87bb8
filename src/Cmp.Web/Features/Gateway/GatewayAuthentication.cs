using System.Security.Claims;
using System.Text.Encodings.Web;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Cmp.Web.Features.Gateway;

/// <summary>
/// Who is calling the gateway, as its authentication found it: the agent config, the key, and the scopes the caller's
/// conversations and Idempotency-Keys live in. A secret key's scope is the key; a widget's is its own session and
/// its server-issued conversation, so a widget never reaches a backend's sessions or answers, nor another visitor's.
/// </summary>
public sealed record GatewayCaller(
    CustomerAgentConfig Config,
    Guid KeyId,
    bool Widget,
    string IdempotencyScope,
    string MemoryScope,
    string? Conversation)
{
    /// <summary>The rate-limit buckets a call draws from: its key (or widget visitor) and its resource, so more keys never mean more calls.</summary>
    public IReadOnlyList<RateBucket> Buckets(int perMinute, int visitorPerMinute) =>
    [
        Widget ? new RateBucket("visitor:" + Conversation, visitorPerMinute) : new RateBucket("key:" + KeyId.ToString("N"), perMinute),
        new RateBucket("resource:" + Config.ResourceId.ToString("N"), perMinute),
    ];
}

/// <summary>
/// The gateway's two authentication schemes, and the endpoint filter that picks one by the credential's form and
/// runs it: a widget session token (<c>wst_…</c>) or an API key. Calling the one handler directly (rather than a
/// policy scheme through the authorization middleware) builds one handler per call on the gateway's hot path.
/// </summary>
public static class GatewayAuth
{
    public const string ApiKeyScheme = "ApiKey";
    public const string WidgetSessionScheme = "WidgetSession";

    public static AuthenticationBuilder AddGatewayAuthentication(this AuthenticationBuilder builder)
    {
        builder.AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyScheme, null);
        builder.AddScheme<AuthenticationSchemeOptions, WidgetSessionAuthenticationHandler>(WidgetSessionScheme, null);
        return builder;
    }

    public static string SchemeFor(HttpRequest request) =>
        Credential(request)?.StartsWith(WidgetSessions.TokenPrefix, StringComparison.Ordinal) == true ? WidgetSessionScheme : ApiKeyScheme;

    /// <summary>Authenticates the call with its scheme's handler; a refusal is that handler's challenge (a problem with a stable type).</summary>
    public static async ValueTask<object?> AuthenticateAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var ctx = invocation.HttpContext;
        var scheme = SchemeFor(ctx.Request);
        var result = await ctx.AuthenticateAsync(scheme);
        if (!result.Succeeded)
        {
            await ctx.ChallengeAsync(scheme);
            return Results.Empty;
        }
        ctx.User = result.Principal;
        return await next(invocation);
    }

    /// <summary>The credential of a gateway call: <c>X-API-Key</c>, else <c>Authorization: Bearer</c>.</summary>
    public static string? Credential(HttpRequest request)
    {
        if (request.Headers["X-API-Key"].ToString() is { Length: > 0 } apiKey)
        {
            return apiKey.Trim();
        }
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }

    public static GatewayCaller Caller(this HttpContext ctx) =>
        ctx.Features.Get<GatewayCaller>() ?? throw new InvalidOperationException("The gateway endpoint ran without its authentication.");
}

/// <summary>
/// What both gateway handlers share: a refusal is a problem with a stable type (written by the challenge), and every
/// refused credential costs the client's address a token of its own bucket, so guessing keys is throttled (429)
/// while callers with a working key are never slowed by someone else's failures.
/// </summary>
public abstract class GatewayAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IKeyRateLimiter limiter, IConfiguration configuration)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private sealed record Refusal(ProblemHttpResult Problem);

    protected AuthenticateResult Success(GatewayCaller caller)
    {
        Context.Features.Set(caller);
        var identity = new ClaimsIdentity(
            [new Claim("cmp:agent_config", caller.Config.Id.ToString("N")), new Claim("cmp:api_key", caller.KeyId.ToString("N"))], Scheme.Name);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    /// <summary>A refused credential: throttled per client address, then answered by <see cref="HandleChallengeAsync"/>.</summary>
    protected async Task<AuthenticateResult> RefuseAsync(ProblemHttpResult problem)
    {
        var perMinute = Math.Max(1, configuration.GetValue("Gateway:FailedAuthPerMinute", 10));
        var address = Context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var decision = await limiter.AcquireAsync([new RateBucket("auth-failures:" + address, perMinute)]);
        if (!decision.Allowed)
        {
            decision.WriteHeaders(Context);
            problem = Problems.Create(429, ProblemTypes.RateLimited, "Too many refused credentials.",
                $"This address sent {perMinute} refused credentials within a minute; retry after {decision.RetryAfterSeconds} s.");
        }
        Context.Features.Set(new Refusal(problem));
        return AuthenticateResult.Fail(problem.ProblemDetails.Detail ?? "refused");
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        (Context.Features.Get<Refusal>()?.Problem
            ?? Problems.Unauthorized("Send a secret key as 'Authorization: Bearer ar_sk_live_…' or 'X-API-Key', or a widget session token.", GatewayProblems.InvalidApiKey))
        .ExecuteAsync(Context);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => HandleChallengeAsync(properties);
}

/// <summary>A secret key (<c>ar_sk_live_…</c>) as <c>Authorization: Bearer</c> or <c>X-API-Key</c>, looked up by its hash through the gateway's cache.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IKeyRateLimiter limiter, IConfiguration configuration,
    CmpDbContext db, GatewayDirectory directory, TimeProvider time)
    : GatewayAuthenticationHandler(options, logger, encoder, limiter, configuration)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var credential = GatewayAuth.Credential(Request);
        if (string.IsNullOrEmpty(credential) || credential.Length > 4000)
        {
            return await RefuseAsync(Problems.Unauthorized("Send a secret key as 'Authorization: Bearer ar_sk_live_…' or 'X-API-Key', or a widget session token.", GatewayProblems.InvalidApiKey));
        }
        var hash = SecretTokens.Hash(credential);
        var key = await directory.KeyAsync(db, hash, Context.RequestAborted);
        if (key is null || !SecretTokens.FixedTimeEquals(key.Hash, hash) || key.RevokedAt is not null || key.ExpiresAt <= time.GetUtcNow().UtcDateTime)
        {
            return await RefuseAsync(Problems.Unauthorized("The API key is unknown, revoked or expired.", GatewayProblems.InvalidApiKey));
        }
        if (key.Kind != ApiKeyKind.Secret)
        {
            return await RefuseAsync(Problems.Unauthorized("A publishable key only opens widget sessions (POST /api/agent-gateway/widget-session/); servers call with a secret key.", GatewayProblems.InvalidApiKey));
        }
        var scope = "key:" + key.Id.ToString("N");
        return Success(new GatewayCaller(key.Config, key.Id, Widget: false, scope, "config:" + key.Config.Id.ToString("N"), Conversation: null));
    }
}

/// <summary>
/// A widget session token (<c>wst_…</c>), only from the origin it was opened on, while that origin is still allowed
/// and the publishable key that opened it still works. The caller's conversation is the one the server bound to the
/// session; the body's session_id is not used.
/// </summary>
public sealed class WidgetSessionAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IKeyRateLimiter limiter, IConfiguration configuration,
    CmpDbContext db, GatewayDirectory directory, WidgetSessions sessions, TimeProvider time)
    : GatewayAuthenticationHandler(options, logger, encoder, limiter, configuration)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var claims = sessions.Read(GatewayAuth.Credential(Request) ?? "");
        if (claims is null)
        {
            return await RefuseAsync(Problems.Unauthorized("The widget session is invalid or has expired; open a new one.", GatewayProblems.InvalidApiKey));
        }
        var origin = Request.Headers.Origin.ToString();
        if (origin != claims.Origin)
        {
            return await RefuseAsync(Problems.Create(403, GatewayProblems.OriginNotAllowed, "Wrong origin.", "The widget session belongs to another website."));
        }
        // The publishable key that opened the session must still work: revoking it ends its sessions at once.
        if (!await directory.KeyUsableAsync(db, claims.KeyId, time.GetUtcNow().UtcDateTime, Context.RequestAborted))
        {
            return await RefuseAsync(Problems.Unauthorized("The widget's publishable key was revoked or has expired.", GatewayProblems.InvalidApiKey));
        }
        var config = await directory.ConfigAsync(db, claims.ConfigId, Context.RequestAborted);
        var host = WidgetSessions.OriginHost(origin);
        if (config is null || host is null || !WidgetSessions.HostAllowed(host, config.AllowedDomainList))
        {
            return await RefuseAsync(Problems.Create(403, GatewayProblems.OriginNotAllowed, "This website may not use the widget.", "The origin is no longer in the agent's allowed_domains."));
        }
        WidgetSessions.Cors(Context, origin);
        var conversation = claims.Conversation.ToString("N");
        return Success(new GatewayCaller(config, claims.KeyId, Widget: true, "widget:" + claims.SessionId.ToString("N"), "widget:" + config.Id.ToString("N"), conversation));
    }
}
