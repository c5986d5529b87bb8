using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

/// <summary>
/// Mailed single-use tokens (email verification, password reset): only the hash is stored, and a token is used
/// by flipping <c>used_at</c> from null in one conditional update, so of two requests racing with the same
/// token exactly one wins.
/// </summary>
public static class OneTimeTokens
{
    /// <summary>Adds a token for the user (saved with the caller's next SaveChanges); returns the plain value, which is never stored.</summary>
    public static string Issue(CmpDbContext db, Guid userId, OneTimeTokenPurpose purpose, TimeSpan lifetime)
    {
        var token = SecretTokens.Create();
        db.OneTimeTokens.Add(new OneTimeToken
        {
            UserId = userId,
            Purpose = purpose,
            TokenHash = SecretTokens.Hash(token),
            ExpiresAt = DateTime.UtcNow + lifetime,
        });
        return token;
    }

    /// <summary>The unused, unexpired token of this purpose, or null (unknown, malformed, used or expired alike).</summary>
    public static async Task<OneTimeToken?> FindUsableAsync(CmpDbContext db, string? token, OneTimeTokenPurpose purpose, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(token) || token.Length > 200)
        {
            return null;
        }
        var hash = SecretTokens.Hash(token.Trim());
        var now = DateTime.UtcNow;
        return await db.OneTimeTokens.AsNoTracking()
            .FirstOrDefaultAsync(t => t.TokenHash == hash && t.Purpose == purpose && t.UsedAt == null && t.ExpiresAt > now, ct);
    }

    /// <summary>Uses the token: true for the one caller whose update flipped <c>used_at</c>.</summary>
    public static async Task<bool> TryUseAsync(CmpDbContext db, OneTimeToken token, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var claimed = await db.OneTimeTokens
            .Where(t => t.Id == token.Id && t.UsedAt == null && t.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), ct);
        return claimed == 1;
    }

    /// <summary>Finds and uses the token in one go; null when it is not usable or another request used it first.</summary>
    public static async Task<OneTimeToken?> ClaimAsync(CmpDbContext db, string? token, OneTimeTokenPurpose purpose, CancellationToken ct)
    {
        var found = await FindUsableAsync(db, token, purpose, ct);
        return found is not null && await TryUseAsync(db, found, ct) ? found : null;
    }
}
