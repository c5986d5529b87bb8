using System.Security.Cryptography;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.AgentConfigs;

/// <summary>A key just created: the stored row and the key itself, which exists nowhere else and is shown this once.</summary>
public sealed record NewApiKey(ApiKey Row, string Key);

/// <summary>
/// A config's API keys, for the API and the console alike: created by a managing role on an active resource,
/// stored only as a hash, listed by prefix and last 4 characters, revoked at once.
/// </summary>
internal static class ApiKeyOperations
{
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    public static readonly string[] Kinds = ["secret", "publishable"];

    public static string Prefix(ApiKeyKind kind) => kind == ApiKeyKind.Secret ? "ar_sk_live_" : "ar_pk_live_";

    public static string WireName(ApiKeyKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The keys of a config (revoked ones too), unordered; find the config with <see cref="AgentConfigOperations.GetAsync"/>.</summary>
    public static IQueryable<ApiKey> Of(CmpDbContext db, CustomerAgentConfig config) => db.ApiKeys.AsNoTracking().Where(k => k.ConfigId == config.Id);

    public static async Task<Outcome<NewApiKey>> CreateAsync(CmpDbContext db, Access access, string uuid, ApiKeyRequest body, CancellationToken ct)
    {
        var config = await AgentConfigQueries.FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        if (!await AgentConfigOperations.CanManageAsync(config, access, ct))
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
        return new NewApiKey(row, key);
    }

    /// <summary>Revokes at once (a guarded update: of two concurrent revokes one wins, the other is told it is already revoked).</summary>
    public static async Task<Outcome<Done>> RevokeAsync(CmpDbContext db, Access access, string uuid, string keyUuid, CancellationToken ct)
    {
        var config = await AgentConfigQueries.FindAsync(uuid, db, access, ct);
        if (config is null || !Refs.TryParse(keyUuid, out var keyId))
        {
            return Problems.NotFound("API key");
        }
        if (!await AgentConfigOperations.CanManageAsync(config, access, ct))
        {
            return Problems.Forbidden("Revoking keys needs a managing role in the config's project or organization.");
        }
        var now = DateTime.UtcNow;
        var revoked = await db.ApiKeys.Where(k => k.Id == keyId && k.ConfigId == config.Id && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        if (revoked == 1)
        {
            return Done.Value;
        }
        return await db.ApiKeys.AnyAsync(k => k.Id == keyId && k.ConfigId == config.Id, ct)
            ? Problems.Conflict("The key is already revoked.", ProblemTypes.InvalidTransition)
            : Problems.NotFound("API key");
    }
}
