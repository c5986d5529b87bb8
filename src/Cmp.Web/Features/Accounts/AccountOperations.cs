using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

/// <summary>
/// The account rules, written once for the API and the web UI: the endpoint issues a token for the user an
/// operation returns, the sign-in page a cookie.
/// </summary>
public sealed class AccountOperations(CmpDbContext db, AccountService accounts, PlatformSettings settings, IConfiguration configuration)
{
    /// <summary>Problem extension carrying a lockout's remaining seconds (the API sends it as Retry-After).</summary>
    public const string RetryAfterExtension = "retry_after";

    public AccountService Accounts => accounts;

    /// <summary>
    /// Email and password → the user, or the refusal: unknown and wrong answer alike (and take as long), five
    /// failures lock the account for a while, a deactivated or unverified account cannot sign in.
    /// </summary>
    public async Task<Outcome<User>> CheckPasswordAsync(string? username, string? password, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("username", username, 254, required: true);
        if (string.IsNullOrEmpty(password))
        {
            errors.Add("password", "This field is required.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var email = EmailAddress.Normalize(name!);
        var user = await db.Users.FirstOrDefaultAsync(u => u.Email == email, ct);
        var now = DateTime.UtcNow;
        if (user is null)
        {
            // Spend the same time as a real check so the answer does not reveal whether the account exists.
            accounts.VerifyPassword(new User { Email = email, PasswordHash = DummyHash.Value }, password!, out _);
            return InvalidCredentials();
        }
        if (user.LockedUntil > now)
        {
            var seconds = (int)Math.Ceiling((user.LockedUntil.Value - now).TotalSeconds);
            var locked = Problems.Create(429, ProblemTypes.AccountLocked, "Account locked.", $"Too many failed sign-ins. Try again in {seconds} seconds.");
            locked.ProblemDetails.Extensions[RetryAfterExtension] = seconds;
            return locked;
        }
        if (!accounts.VerifyPassword(user, password!, out var rehash))
        {
            var threshold = configuration.GetValue("Auth:LockoutThreshold", 5);
            var lockout = TimeSpan.FromMinutes(configuration.GetValue("Auth:LockoutMinutes", 15.0));
            // Atomic increment: concurrent failures all count.
            await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.FailedSignInCount, u => u.FailedSignInCount + 1), ct);
            await db.Users.Where(u => u.Id == user.Id && u.FailedSignInCount >= threshold)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.LockedUntil, now + lockout).SetProperty(u => u.FailedSignInCount, 0), ct);
            return InvalidCredentials();
        }
        if (!user.IsActive)
        {
            return Problems.Forbidden("This account is deactivated.");
        }
        if (!user.EmailVerified && settings.RequireEmailVerification)
        {
            return Problems.Create(403, ProblemTypes.EmailNotVerified, "Email not verified.",
                "Verify your email address first: open the link in the verification email, or ask for a new one at POST /api/auth/resend-verification/.");
        }
        user.FailedSignInCount = 0;
        user.LockedUntil = null;
        user.LastSignInAt = now;
        if (rehash)
        {
            user.PasswordHash = accounts.HashPassword(user, password!);
        }
        await db.SaveChangesAsync(ct);
        return user;
    }

    /// <summary>
    /// A new local account: email unique, full name required, password by <see cref="PasswordPolicy"/>. When
    /// verification is required the account starts unverified and a link to <c>{baseUrl}/verify-email</c> is mailed.
    /// </summary>
    public async Task<Outcome<User>> SignUpAsync(SignUpRequest body, string baseUrl, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var email = errors.Email("email", body.Email, required: true);
        var fullName = errors.Text("full_name", body.FullName, 150, required: true);
        foreach (var message in PasswordPolicy.Check(body.Password, email))
        {
            errors.Add("password", message);
        }
        if (email is not null && await db.Users.AnyAsync(u => u.Email == email, ct))
        {
            errors.Add("email", "A user with this email already exists.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var user = new User { Email = email!, FullName = fullName!, EmailVerified = !settings.RequireEmailVerification };
        user.PasswordHash = accounts.HashPassword(user, body.Password!);
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Validation("email", "A user with this email already exists.");
        }
        if (settings.RequireEmailVerification)
        {
            await accounts.SendVerificationAsync(user, baseUrl, ct);
        }
        return user;
    }

    /// <summary>Marks the token's account verified; the token is single use (claimed race-safely) and expires.</summary>
    public async Task<Outcome<Done>> VerifyEmailAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(token) || token.Length > 200)
        {
            return Problems.Validation("token", "This field is required.");
        }
        var claimed = await OneTimeTokens.ClaimAsync(db, token, OneTimeTokenPurpose.VerifyEmail, ct);
        if (claimed is null)
        {
            return Problems.Create(400, ProblemTypes.InvalidToken, "Invalid token.", "The verification token is unknown, expired or already used.");
        }
        await db.Users.Where(u => u.Id == claimed.UserId).ExecuteUpdateAsync(s => s.SetProperty(u => u.EmailVerified, true), ct);
        return Done.Value;
    }

    private static readonly Lazy<string> DummyHash = new(() =>
        new Microsoft.AspNetCore.Identity.PasswordHasher<User>().HashPassword(new User { Email = "x" }, SecretTokens.Create()));

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult InvalidCredentials() =>
        Problems.Unauthorized("Unable to sign in with the provided credentials.", ProblemTypes.InvalidCredentials);
}
