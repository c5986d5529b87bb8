using System.Security.Cryptography;
using System.Text.Json;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Gateway;

public sealed record WidgetSessionBody(string? WidgetId, string? ApiKey, string? Conversation);
public sealed record WidgetLook(string AgentName, string Greeting, string PrimaryColor, string SecondaryColor, string AvatarUrl, string Position, string Theme);

/// <summary>
/// A widget session: <c>token</c> for the gateway calls; <c>conversation</c>, the visitor's conversation, issued by the
/// server and kept by the widget (send it back when opening the next session to go on with it after a reload).
/// </summary>
public sealed record WidgetSessionDto(string Token, DateTime ExpiresAt, int ExpiresIn, string Conversation, WidgetLook Config);

/// <summary>What a widget session token carries: config, origin, the publishable key that opened it, the session, the visitor's conversation.</summary>
public sealed record WidgetClaims(Guid ConfigId, string Origin, Guid KeyId, Guid SessionId, Guid Conversation);

/// <summary>
/// Widget sessions and the conversations bound to them. Both are Data Protection payloads (keys in the database, so
/// any server process reads them): a session token lives 30 minutes; a conversation handle lives 90 days and only
/// for the config it was issued for. A visitor's conversation id is never chosen by the browser, so a widget can
/// neither read nor continue a backend's session or another visitor's.
/// </summary>
public sealed class WidgetSessions(IDataProtectionProvider protection, TimeProvider time)
{
    public const string TokenPrefix = "wst_";
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromMinutes(30);
    public static readonly TimeSpan ConversationLifetime = TimeSpan.FromDays(90);

    private readonly ITimeLimitedDataProtector _sessions = protection.CreateProtector("Cmp.Gateway.WidgetSession.v2").ToTimeLimitedDataProtector();
    private readonly ITimeLimitedDataProtector _conversations = protection.CreateProtector("Cmp.Gateway.WidgetConversation.v1").ToTimeLimitedDataProtector();

    private sealed record ConversationClaims(Guid C, Guid V);

    /// <summary>The claims of a session token, or null for one that is forged, expired or not a session token.</summary>
    public WidgetClaims? Read(string token)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 4000)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<WidgetClaims>(_sessions.Unprotect(token[TokenPrefix.Length..], out var expires)) is { } claims
                && expires > time.GetUtcNow() ? claims : null;
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The conversation a handle names, when it was issued for this config; else a new one.</summary>
    public (Guid Id, string Handle) Conversation(Guid configId, string? handle)
    {
        if (!string.IsNullOrEmpty(handle) && handle.Length <= 2000)
        {
            try
            {
                if (JsonSerializer.Deserialize<ConversationClaims>(_conversations.Unprotect(handle, out var expires)) is { } claims
                    && claims.C == configId && expires > time.GetUtcNow())
                {
                    return (claims.V, handle);
                }
            }
            catch (Exception ex) when (ex is CryptographicException or JsonException)
            {
                // a forged, foreign or expired handle: the visitor starts a new conversation
            }
        }
        var id = Guid.NewGuid();
        return (id, _conversations.Protect(JsonSerializer.Serialize(new ConversationClaims(configId, id)), time.GetUtcNow() + ConversationLifetime));
    }

    public (string Token, DateTime ExpiresAt) Open(WidgetClaims claims)
    {
        var expires = time.GetUtcNow() + SessionLifetime;
        return (TokenPrefix + _sessions.Protect(JsonSerializer.Serialize(claims), expires), expires.UtcDateTime);
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

    internal static void Cors(HttpContext ctx, string origin)
    {
        ctx.Response.Headers.AccessControlAllowOrigin = origin;
        ctx.Response.Headers.Vary = "Origin";
        ctx.Response.Headers.AccessControlExposeHeaders = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed";
    }

    // ---- POST /api/agent-gateway/widget-session/ ------------------------------------------

    internal static async Task<Results<Ok<WidgetSessionDto>, ProblemHttpResult>> OpenAsync(
        WidgetSessionBody body, HttpContext ctx, CmpDbContext db, WidgetSessions sessions, TimeProvider time, CancellationToken ct)
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
        var now = time.GetUtcNow().UtcDateTime;
        var row = await db.ApiKeys.AsNoTracking().Where(k => k.Hash == hash && k.Kind == ApiKeyKind.Publishable && k.ConfigId == widgetId)
            .Select(k => new { k.Id, k.RevokedAt, k.ExpiresAt, Config = k.Config, State = k.Config.Resource.State })
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
        var (conversation, handle) = sessions.Conversation(row.Config.Id, body.Conversation);
        var (token, expires) = sessions.Open(new WidgetClaims(row.Config.Id, origin, row.Id, Guid.NewGuid(), conversation));
        var c = row.Config;
        return TypedResults.Ok(new WidgetSessionDto(token, expires, (int)SessionLifetime.TotalSeconds, handle,
            new WidgetLook(c.AgentName, c.Greeting, c.PrimaryColor, c.SecondaryColor, c.AvatarUrl, c.Position, c.Theme)));
    }
}
