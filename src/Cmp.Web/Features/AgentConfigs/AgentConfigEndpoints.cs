using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.AgentConfigs;

public sealed record ConfigPatchRequest(
    string? AgentName, string? Greeting, string? SystemPrompt, string? Tone, string? PrimaryColor, string? SecondaryColor,
    string? AvatarUrl, string? Position, string? Theme, JsonElement? AllowedDomains);
public sealed record ConfigDto(
    string Uuid, string Url, string ResourceUuid, string ResourceState, string AgentName, string Greeting, string SystemPrompt, string Tone,
    string PrimaryColor, string SecondaryColor, string AvatarUrl, string Position, string Theme, IReadOnlyList<string> AllowedDomains, DateTime Created);
public sealed record ApiKeyRequest(string? Name, string? Kind, DateTime? ExpiresAt);
public sealed record ApiKeyDto(string Uuid, string Name, string Kind, string Prefix, string Last4, DateTime? ExpiresAt, DateTime? LastUsedAt, DateTime? RevokedAt, DateTime Created);
public sealed record NewApiKeyDto(string Uuid, string Name, string Kind, string Key, string Prefix, string Last4, DateTime? ExpiresAt, DateTime Created);

public static partial class AgentConfigEndpoints
{
    public static readonly string[] Tones = ["professional", "friendly", "casual", "formal", "enthusiastic"];
    public static readonly string[] Positions = ["bottom-right", "bottom-left"];
    public static readonly string[] Themes = ["light", "dark", "auto"];

    public static IEndpointRouteBuilder MapAgentConfigEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/customer-agent-configs").WithTags("Agent configs").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListAgentConfigs");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetAgentConfig");
        g.MapPatch("/{uuid}/", UpdateAsync).WithName("UpdateAgentConfig");
        g.MapGet("/{uuid}/api_keys/", ListKeysAsync).WithName("ListApiKeys");
        g.MapPost("/{uuid}/api_keys/", CreateKeyAsync).WithName("CreateApiKey");
        g.MapDelete("/{uuid}/api_keys/{keyUuid}/", RevokeKeyAsync).WithName("RevokeApiKey");
        g.MapUsageEndpoints(); // /{uuid}/usage/: the Billing feature's
        return app;
    }

    internal static IQueryable<CustomerAgentConfig> Visible(CmpDbContext db, Access access) => AgentConfigQueries.Visible(db, access);

    internal static Task<CustomerAgentConfig?> FindAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        AgentConfigQueries.FindAsync(uuid, db, access, ct);

    internal static async Task<bool> CanManageAsync(CustomerAgentConfig config, Access access, CancellationToken ct) =>
        await access.HasProjectPermissionAsync(config.Resource.ProjectId, Permission.UpdateProject, ct);

    private static ConfigDto ToDto(CustomerAgentConfig c, HttpContext ctx) => new(
        c.Id.Hex(), Refs.Url(ctx, "customer-agent-configs", c.Id), c.ResourceId.Hex(), c.Resource.State.Screaming(), c.AgentName, c.Greeting, c.SystemPrompt,
        c.Tone, c.PrimaryColor, c.SecondaryColor, c.AvatarUrl, c.Position, c.Theme, c.AllowedDomainList, c.CreatedAt);

    private static async Task<Results<Ok<List<ConfigDto>>, ProblemHttpResult>> ListAsync(ListQuery query, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var rows = Visible(db, access).AsNoTracking().Include(c => c.Resource).AsQueryable();
        if (query.Search is { } search)
        {
            var t = search.ToLowerInvariant();
            rows = rows.Where(c => c.AgentName.ToLower().Contains(t));
        }
        var ordering = new Ordering<CustomerAgentConfig>("-created").Field("created", c => c.CreatedAt).Field("agent_name", c => c.AgentName).Tiebreak(c => c.Id);
        if (!ordering.TryApply(rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(c => ToDto(c, ctx)).ToList());
    }

    private static async Task<Results<Ok<ConfigDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var config = await FindAsync(uuid, db, access, ct);
        return config is null ? Problems.NotFound("agent config") : TypedResults.Ok(ToDto(config, ctx));
    }

    [GeneratedRegex("^#[0-9A-Fa-f]{6}$")]
    private static partial Regex Color();

    /// <summary>A host name, an IP address, <c>localhost</c>, or <c>*.</c> followed by a domain with a dot.</summary>
    internal static bool IsDomainPattern(string value)
    {
        if (value.Length is 0 or > 253 || value.Contains("://", StringComparison.Ordinal) || value.Contains('/') || value.Contains(':') && !IPAddress.TryParse(value, out _))
        {
            return false;
        }
        if (IPAddress.TryParse(value, out _))
        {
            return true;
        }
        var host = value.StartsWith("*.", StringComparison.Ordinal) ? value[2..] : value;
        if (value.StartsWith("*.", StringComparison.Ordinal) && !host.Contains('.'))
        {
            return false;
        }
        return !host.Contains('*') && Uri.CheckHostName(host) == UriHostNameType.Dns;
    }

    private static async Task<Results<Ok<ConfigDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, ConfigPatchRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var config = await FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        if (!await CanManageAsync(config, access, ct))
        {
            return Problems.Forbidden("Changing the agent config needs a managing role in its project or organization.");
        }
        var errors = new FieldErrors();
        // Names and greetings take any text (the widget shows them as text); lengths are what is checked.
        var name = body.AgentName is null ? null : errors.Text("agent_name", body.AgentName, 80, required: true);
        var greeting = body.Greeting is null ? null : errors.Text("greeting", body.Greeting, 500);
        var systemPrompt = body.SystemPrompt is null ? null : errors.Text("system_prompt", body.SystemPrompt, 8000);
        void OneOf(string field, string? value, string[] allowed)
        {
            if (value is not null && !allowed.Contains(value))
            {
                errors.Add(field, $"Choose one of: {string.Join(", ", allowed)}.");
            }
        }
        OneOf("tone", body.Tone, Tones);
        OneOf("position", body.Position, Positions);
        OneOf("theme", body.Theme, Themes);
        if (body.PrimaryColor is not null && !Color().IsMatch(body.PrimaryColor))
        {
            errors.Add("primary_color", "Use a #RRGGBB colour.");
        }
        if (body.SecondaryColor is not null && !Color().IsMatch(body.SecondaryColor))
        {
            errors.Add("secondary_color", "Use a #RRGGBB colour.");
        }
        if (body.AvatarUrl is { Length: > 0 } avatar
            && (avatar.Length > 2000 || !Uri.TryCreate(avatar, UriKind.Absolute, out var avatarUri) || avatarUri.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(avatarUri.UserInfo)))
        {
            errors.Add("avatar_url", "Use an https:// URL.");
        }
        List<string>? domains = null;
        if (body.AllowedDomains is { } raw)
        {
            if (raw.ValueKind != JsonValueKind.Array || raw.GetArrayLength() > 50 || raw.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                errors.Add("allowed_domains", "Give a list of at most 50 host names.");
            }
            else
            {
                domains = raw.EnumerateArray().Select(e => e.GetString()!.Trim().ToLowerInvariant()).Distinct().ToList();
                foreach (var bad in domains.Where(d => !IsDomainPattern(d)))
                {
                    errors.Add("allowed_domains", $"'{bad}' is not a host name, an IP address or a *.example.com pattern (no scheme, port or path).");
                }
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        config.AgentName = name ?? config.AgentName;
        config.Greeting = greeting ?? config.Greeting;
        config.SystemPrompt = systemPrompt ?? config.SystemPrompt;
        config.Tone = body.Tone ?? config.Tone;
        config.PrimaryColor = body.PrimaryColor ?? config.PrimaryColor;
        config.SecondaryColor = body.SecondaryColor ?? config.SecondaryColor;
        config.AvatarUrl = body.AvatarUrl ?? config.AvatarUrl;
        config.Position = body.Position ?? config.Position;
        config.Theme = body.Theme ?? config.Theme;
        if (domains is not null)
        {
            config.AllowedDomains = string.Join('\n', domains);
        }
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(ToDto(config, ctx));
    }

    // ---- API keys -----------------------------------------------------------------------

    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string Prefix(ApiKeyKind kind) => kind == ApiKeyKind.Secret ? "ar_sk_live_" : "ar_pk_live_";

    private static ApiKeyDto ToDto(ApiKey k) => new(k.Id.Hex(), k.Name, k.Kind.ToString().ToLowerInvariant(), k.Prefix, k.Last4, k.ExpiresAt, k.LastUsedAt, k.RevokedAt, k.CreatedAt);

    private static async Task<Results<Ok<List<ApiKeyDto>>, ProblemHttpResult>> ListKeysAsync(
        string uuid, ListQuery query, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var config = await FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        var ordering = new Ordering<ApiKey>("-created").Field("created", k => k.CreatedAt).Field("name", k => k.Name).Field("last_used_at", k => k.LastUsedAt)
            .Tiebreak(k => k.Id);
        if (!ordering.TryApply(db.ApiKeys.AsNoTracking().Where(k => k.ConfigId == config.Id), query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var keys = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(keys.Select(ToDto).ToList());
    }

    private static async Task<Results<Created<NewApiKeyDto>, ProblemHttpResult>> CreateKeyAsync(
        string uuid, ApiKeyRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var config = await FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        if (!await CanManageAsync(config, access, ct))
        {
            return Problems.Forbidden("Creating keys needs a managing role in the config's project or organization.");
        }
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 100, required: true);
        ApiKeyKind kind = default;
        if (body.Kind is not ("secret" or "publishable"))
        {
            errors.Add("kind", "Choose one of: secret, publishable.");
        }
        else
        {
            kind = body.Kind == "secret" ? ApiKeyKind.Secret : ApiKeyKind.Publishable;
        }
        if (body.ExpiresAt is { } expires && expires.ToUniversalTime() <= DateTime.UtcNow)
        {
            errors.Add("expires_at", "The expiry must be in the future.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (config.Resource.State != ResourceState.Ok)
        {
            return Problems.Conflict("The resource is not active; it takes no new keys.", ProblemTypes.InvalidTransition);
        }
        var key = Prefix(kind) + RandomNumberGenerator.GetString(Base62, 24);
        var row = new ApiKey
        {
            ConfigId = config.Id,
            Name = name!,
            Kind = kind,
            Prefix = Prefix(kind),
            Last4 = key[^4..],
            Hash = SecretTokens.Hash(key),
            ExpiresAt = body.ExpiresAt?.ToUniversalTime(),
            CreatedById = access.UserId,
        };
        db.ApiKeys.Add(row);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/customer-agent-configs/{config.Id:N}/api_keys/",
            new NewApiKeyDto(row.Id.Hex(), row.Name, body.Kind!, key, row.Prefix, row.Last4, row.ExpiresAt, row.CreatedAt));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(string uuid, string keyUuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var config = await FindAsync(uuid, db, access, ct);
        if (config is null || !Refs.TryParse(keyUuid, out var keyId))
        {
            return Problems.NotFound("API key");
        }
        if (!await CanManageAsync(config, access, ct))
        {
            return Problems.Forbidden("Revoking keys needs a managing role in the config's project or organization.");
        }
        var now = DateTime.UtcNow;
        var revoked = await db.ApiKeys.Where(k => k.Id == keyId && k.ConfigId == config.Id && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        if (revoked == 1)
        {
            return TypedResults.NoContent();
        }
        return await db.ApiKeys.AnyAsync(k => k.Id == keyId && k.ConfigId == config.Id, ct)
            ? Problems.Conflict("The key is already revoked.", ProblemTypes.InvalidTransition)
            : Problems.NotFound("API key");
    }
}
