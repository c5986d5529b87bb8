using System.Security.Claims;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

/// <summary>
/// Who an OpenID Connect sign-in is, for the API (which answers with a token) and the web UI (which signs the
/// cookie in): found by issuer + subject, else linked by the provider-verified email, else created, subject to
/// <c>OIDC_BLOCK_CREATION_OF_UNINVITED_USERS</c>.
/// </summary>
public static class OidcOperations
{
    /// <summary>Resolves (and saves: a new user, a new link) the user behind the provider's principal.</summary>
    public static async Task<Outcome<User>> ResolveUserAsync(CmpDbContext db, PlatformSettings settings, ClaimsPrincipal principal, CancellationToken ct)
    {
        var subject = principal.FindFirst("sub");
        if (subject is null)
        {
            return Problems.Unauthorized("The identity provider sent no subject.");
        }
        var issuer = subject.Issuer;
        var email = principal.FindFirstValue("email")?.Trim().ToLowerInvariant();
        var emailVerified = string.Equals(principal.FindFirstValue("email_verified"), "true", StringComparison.OrdinalIgnoreCase);
        var name = principal.FindFirstValue("name") ?? "";

        var login = await db.ExternalLogins.Include(l => l.User).FirstOrDefaultAsync(l => l.Issuer == issuer && l.Subject == subject.Value, ct);
        var user = login?.User;
        if (user is null)
        {
            if (string.IsNullOrEmpty(email) || !emailVerified || !EmailAddress.IsValid(email))
            {
                return Problems.Create(403, ProblemTypes.OidcEmailNotVerified, "Email not verified by the identity provider.",
                    "CMP links OpenID Connect accounts by a verified email address; the provider sent none.");
            }
            user = await db.Users.FirstOrDefaultAsync(u => u.Email == email, ct);
            if (user is null)
            {
                var now = DateTime.UtcNow;
                var invited = await db.Invitations.AnyAsync(i => i.Email == email && i.State == InvitationState.Pending && i.ExpiresAt > now, ct);
                if (settings.OidcBlockCreationOfUninvitedUsers && !invited)
                {
                    return Problems.Create(403, ProblemTypes.OidcUninvited, "No invitation.",
                        "This platform only admits invited users. Ask an organization owner to invite " + email + ".");
                }
                user = new User { Email = email, FullName = name.Length > 150 ? name[..150] : name, EmailVerified = true };
                db.Users.Add(user);
            }
            user.EmailVerified = true; // the provider vouched for the address
            db.ExternalLogins.Add(new ExternalLogin { UserId = user.Id, Issuer = issuer, Subject = subject.Value });
        }
        if (!user.IsActive)
        {
            return Problems.Forbidden("This account is deactivated.");
        }
        user.LastSignInAt = DateTime.UtcNow;
        await db.SaveChangesAsync(ct);
        return user;
    }

    /// <summary>
    /// What the sign-in page says for a refused OIDC sign-in, by the problem type's slug (the page gets only the
    /// slug in its address, so nothing a link's author writes is shown).
    /// </summary>
    public static string? Explain(string? slug) => slug switch
    {
        "oidc-uninvited" => "This platform only admits invited users. Ask an organization owner to invite your email address, then sign in again.",
        "oidc-email-not-verified" => "Your identity provider did not confirm your email address, so CMP cannot link your account.",
        "forbidden" => "This account is deactivated.",
        "unauthorized" => "The sign-in with your organization's account did not complete. Try again.",
        "oidc-disabled" => "Sign-in with an organization account is not configured on this platform.",
        _ => null,
    };
}
