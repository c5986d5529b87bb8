using System.Security.Claims;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

/// <summary>
/// OpenID Connect sign-in (Keycloak or any provider): authorization code flow with PKCE.
/// Configured by <c>Oidc__Authority</c>, <c>Oidc__ClientId</c>, <c>Oidc__ClientSecret</c>; off when no authority is set.
/// The provider's answer lands in a short-lived external cookie; <c>/api-auth/oidc/complete/</c> turns it
/// into a CMP user (found by subject, linked by verified email, or created) and a CMP API token.
/// </summary>
public static class OidcEndpoints
{
    public const string Scheme = "oidc";
    public const string ExternalCookie = "External";
    public const string CallbackPath = "/api-auth/oidc/callback/";

    public static AuthenticationBuilder AddCmpOidc(this AuthenticationBuilder auth, IConfiguration configuration)
    {
        var authority = configuration["Oidc:Authority"];
        if (string.IsNullOrWhiteSpace(authority))
        {
            return auth;
        }
        auth.AddCookie(ExternalCookie, o =>
        {
            o.Cookie.Name = "cmp.external";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.ExpireTimeSpan = TimeSpan.FromMinutes(10);
        });
        auth.AddOpenIdConnect(Scheme, o =>
        {
            o.Authority = authority;
            o.ClientId = configuration["Oidc:ClientId"];
            o.ClientSecret = configuration["Oidc:ClientSecret"];
            o.ResponseType = "code";
            o.UsePkce = true;
            o.SignInScheme = ExternalCookie;
            o.CallbackPath = CallbackPath;
            o.RequireHttpsMetadata = configuration.GetValue("Oidc:RequireHttpsMetadata", true);
            o.MapInboundClaims = false;
            o.GetClaimsFromUserInfoEndpoint = true;
            o.SaveTokens = false;
            o.Scope.Clear();
            o.Scope.Add("openid");
            o.Scope.Add("email");
            o.Scope.Add("profile");
            o.ClaimActions.MapUniqueJsonKey("email_verified", "email_verified");
            // The code comes back on a top-level GET, so Lax cookies survive the round trip, and they
            // stay Secure whenever the site is served over https.
            o.ResponseMode = "query";
            o.CorrelationCookie.SameSite = SameSiteMode.Lax;
            o.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.NonceCookie.SameSite = SameSiteMode.Lax;
            o.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        return auth;
    }

    public static IEndpointRouteBuilder MapOidcEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api-auth/oidc").WithTags("Accounts").AllowAnonymous().RequireRateLimiting(RateLimits.Auth);
        g.MapGet("/login/", Login).WithName("OidcLogin");
        g.MapGet("/complete/", CompleteAsync).WithName("OidcComplete");
        return app;
    }

    private static Results<ChallengeHttpResult, ProblemHttpResult> Login(PlatformSettings settings)
    {
        if (!settings.OidcEnabled)
        {
            return Problems.Create(404, ProblemTypes.OidcDisabled, "OIDC sign-in is not configured.", "This platform has no OpenID Connect provider (Oidc__Authority is unset).");
        }
        return TypedResults.Challenge(new AuthenticationProperties { RedirectUri = "/api-auth/oidc/complete/" }, [Scheme]);
    }

    private static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> CompleteAsync(
        HttpContext ctx, CmpDbContext db, AccountService accounts, PlatformSettings settings, CancellationToken ct)
    {
        if (!settings.OidcEnabled)
        {
            return Problems.Create(404, ProblemTypes.OidcDisabled, "OIDC sign-in is not configured.", "This platform has no OpenID Connect provider.");
        }
        var external = await ctx.AuthenticateAsync(ExternalCookie);
        if (!external.Succeeded || external.Principal is null)
        {
            return Problems.Unauthorized("No OpenID Connect sign-in is in progress; start at /api-auth/oidc/login/.");
        }
        await ctx.SignOutAsync(ExternalCookie);
        var principal = external.Principal;
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
        var (token, row) = await accounts.IssueTokenAsync(user, ct);
        return TypedResults.Ok(new TokenResponse(token, row.ExpiresAt, user.Id.Hex()));
    }
}
