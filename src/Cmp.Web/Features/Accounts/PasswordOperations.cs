using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

public sealed record PasswordResetRequest(string? Email);
public sealed record PasswordResetConfirmRequest(string? Token, string? Password);
public sealed record PasswordChangeRequest(string? CurrentPassword, string? NewPassword);

/// <summary>
/// Password reset (a mailed, single-use link valid for <see cref="ResetLifetime"/>) and change, for the API's
/// endpoints and the account pages alike. Each takes the database it works in, so a console page can pass one
/// from its pool and an endpoint its request's.
/// </summary>
public static class PasswordOperations
{
    public static readonly TimeSpan ResetLifetime = TimeSpan.FromHours(1);

    public const string ResetRequestedDetail = "If that address has an active account, a link to set a new password is on its way. It works once, within an hour.";

    /// <summary>
    /// Mails a reset link <c>{baseUrl}/password-reset?token=…</c> to an active account with this address. Unknown and
    /// inactive addresses get the same answer and no mail: the caller learns nothing about who has an account.
    /// </summary>
    public static async Task<Outcome<Done>> RequestResetAsync(
        CmpDbContext db, EmailSender email, PasswordResetRequest body, string baseUrl, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var address = errors.Email("email", body.Email, required: true);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Email == address && u.IsActive, ct);
        if (user is null)
        {
            return Done.Value;
        }
        var token = OneTimeTokens.Issue(db, user.Id, OneTimeTokenPurpose.PasswordReset, ResetLifetime);
        await db.SaveChangesAsync(ct);
        var link = $"{baseUrl.TrimEnd('/')}/password-reset?token={token}";
        await email.SendAsync(user.Email, "Set a new password for CMP",
            $$"""
            Hello {{user.FullName}},

            Someone asked to set a new password for the CMP account {{user.Email}}. To choose one, open this link within an hour:

            {{link}}

            Or send the token to POST /api/auth/password-reset/confirm/ as {"token": "{{token}}", "password": "..."}.
            The link works once. If you did not ask for it, ignore this message: your password stays as it is.
            """, ct);
        return Done.Value;
    }

    /// <summary>
    /// Sets the new password of the token's account. The token is checked first and used only once the password
    /// passes the policy (a weak password can be retried with the same link); on success every API token of the
    /// user is revoked, any lockout cleared, other reset links voided and the address counted as verified (the
    /// link reached it).
    /// </summary>
    public static async Task<Outcome<Done>> ConfirmResetAsync(
        CmpDbContext db, IPasswordHasher<User> hasher, PasswordResetConfirmRequest body, CancellationToken ct)
    {
        var token = await OneTimeTokens.FindUsableAsync(db, body.Token, OneTimeTokenPurpose.PasswordReset, ct);
        var user = token is null ? null : await db.Users.FirstOrDefaultAsync(u => u.Id == token.UserId && u.IsActive, ct);
        if (token is null || user is null)
        {
            return InvalidToken();
        }
        var errors = new FieldErrors();
        foreach (var message in PasswordPolicy.Check(body.Password, user.Email))
        {
            errors.Add("password", message);
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (!await OneTimeTokens.TryUseAsync(db, token, ct))
        {
            return InvalidToken();
        }
        var now = DateTime.UtcNow;
        user.PasswordHash = hasher.HashPassword(user, body.Password!);
        user.FailedSignInCount = 0;
        user.LockedUntil = null;
        user.EmailVerified = true;
        await db.SaveChangesAsync(ct);
        await RevokeTokensAsync(db, user.Id, keep: null, ct);
        await db.OneTimeTokens.Where(t => t.UserId == user.Id && t.Purpose == OneTimeTokenPurpose.PasswordReset && t.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), ct);
        await tx.CommitAsync(ct);
        return Done.Value;
    }

    /// <summary>
    /// The signed-in user's new password, given the current one. Other API tokens of the user are revoked
    /// (<paramref name="keepTokenId"/>, the token making the call, stays valid).
    /// </summary>
    public static async Task<Outcome<Done>> ChangeAsync(
        CmpDbContext db, IPasswordHasher<User> hasher, Guid userId, Guid? keepTokenId, PasswordChangeRequest body, CancellationToken ct)
    {
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null)
        {
            return Problems.NotFound("user");
        }
        var errors = new FieldErrors();
        if (string.IsNullOrEmpty(body.CurrentPassword))
        {
            errors.Add("current_password", "This field is required.");
        }
        else if (user.PasswordHash is null)
        {
            errors.Add("current_password", "This account has no password yet (it signs in through your organization's identity provider); use \"Forgot your password?\" to set one.");
        }
        else if (hasher.VerifyHashedPassword(user, user.PasswordHash, body.CurrentPassword) == PasswordVerificationResult.Failed)
        {
            errors.Add("current_password", "The current password is not correct.");
        }
        foreach (var message in PasswordPolicy.Check(body.NewPassword, user.Email))
        {
            errors.Add("new_password", message);
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        user.PasswordHash = hasher.HashPassword(user, body.NewPassword!);
        await db.SaveChangesAsync(ct);
        await RevokeTokensAsync(db, user.Id, keepTokenId, ct);
        return Done.Value;
    }

    private static Task<int> RevokeTokensAsync(CmpDbContext db, Guid userId, Guid? keep, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        return db.AuthTokens.Where(t => t.UserId == userId && t.RevokedAt == null && (keep == null || t.Id != keep))
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), ct);
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult InvalidToken() =>
        Problems.Create(400, ProblemTypes.InvalidToken, "Invalid token.", "The password reset link is unknown, expired or already used; ask for a new one.");
}
