using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Identity;

namespace Cmp.Web.Features.Accounts;

/// <summary>Token issuing and verification mail, shared by password sign-in, OIDC and sign-up.</summary>
public sealed class AccountService(CmpDbContext db, EmailSender email, IConfiguration configuration, IPasswordHasher<User> hasher)
{
    public static readonly TimeSpan VerificationLifetime = TimeSpan.FromHours(24);

    public TimeSpan TokenLifetime =>
        TimeSpan.FromHours(configuration.GetValue("Auth:TokenLifetimeHours", 24.0));

    public string HashPassword(User user, string password) => hasher.HashPassword(user, password);

    public bool VerifyPassword(User user, string password, out bool needsRehash)
    {
        needsRehash = false;
        if (user.PasswordHash is null)
        {
            return false;
        }
        var result = hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        needsRehash = result == PasswordVerificationResult.SuccessRehashNeeded;
        return result != PasswordVerificationResult.Failed;
    }

    /// <summary>Creates an API token for the user; the plain value is returned once and never stored.</summary>
    public async Task<(string Token, AuthToken Row)> IssueTokenAsync(User user, CancellationToken ct)
    {
        var token = SecretTokens.Create();
        var row = new AuthToken { UserId = user.Id, TokenHash = SecretTokens.Hash(token), ExpiresAt = DateTime.UtcNow + TokenLifetime };
        db.AuthTokens.Add(row);
        user.LastSignInAt = DateTime.UtcNow;
        await db.SaveChangesAsync(ct);
        return (token, row);
    }

    /// <summary>Mails a verification link; <paramref name="baseUrl"/> is CMP's public address (see <see cref="PublicBaseUrl"/>).</summary>
    public async Task SendVerificationAsync(User user, string baseUrl, CancellationToken ct)
    {
        var token = OneTimeTokens.Issue(db, user.Id, OneTimeTokenPurpose.VerifyEmail, VerificationLifetime);
        await db.SaveChangesAsync(ct);
        var link = $"{baseUrl.TrimEnd('/')}/verify-email?token={token}";
        await email.SendAsync(user.Email, "Verify your email address for CMP",
            $$"""
            Hello {{user.FullName}},

            Confirm that {{user.Email}} is your address by opening this link within 24 hours:

            {{link}}

            Or send the token to POST /api/auth/verify-email/ as {"token": "{{token}}"}.
            If you did not sign up for CMP, ignore this message.
            """, ct);
    }

    public string PublicBaseUrl(HttpContext context) =>
        Refs.BaseUrl(context).TrimEnd('/');
}
