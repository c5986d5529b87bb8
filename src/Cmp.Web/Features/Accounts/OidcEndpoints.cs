using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;

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

        // The web UI's OIDC sign-in: the same provider round trip, ending in the sign-in cookie instead of a token.
        var ui = app.MapGroup("/account/oidc").AllowAnonymous().RequireRateLimiting(RateLimits.Auth).ExcludeFromDescription();
        ui.MapGet("/", UiLogin);
        ui.MapGet("/complete", UiCompleteAsync);
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

    private static IResult UiLogin(PlatformSettings settings, string? returnUrl)
    {
        if (!settings.OidcEnabled)
        {
            return Results.LocalRedirect(FailedUrl(ProblemTypes.OidcDisabled));
        }
        var complete = "/account/oidc/complete?returnUrl=" + Uri.EscapeDataString(Components.UiSetup.LocalUrl(returnUrl));
        return Results.Challenge(new AuthenticationProperties { RedirectUri = complete }, [Scheme]);
    }

    private static async Task<IResult> UiCompleteAsync(HttpContext ctx, CmpDbContext db, PlatformSettings settings, string? returnUrl, CancellationToken ct)
    {
        if (!settings.OidcEnabled)
        {
            return Results.LocalRedirect(FailedUrl(ProblemTypes.OidcDisabled));
        }
        var external = await ctx.AuthenticateAsync(ExternalCookie);
        if (!external.Succeeded || external.Principal is null)
        {
            return Results.LocalRedirect(FailedUrl(ProblemTypes.Unauthorized));
        }
        await ctx.SignOutAsync(ExternalCookie);
        var outcome = await OidcOperations.ResolveUserAsync(db, settings, external.Principal, ct);
        if (!outcome.Ok)
        {
            return Results.LocalRedirect(FailedUrl(outcome.Problem!.Type ?? ProblemTypes.Unauthorized));
        }
        await CookieSignIn.SignInAsync(ctx, outcome.Value!);
        var target = Components.UiSetup.LocalUrl(returnUrl);
        return Results.LocalRedirect(target == "/" ? "/customer/agents/" : target);
    }

    /// <summary>The sign-in page, told which refusal to explain (by the problem type's slug only).</summary>
    private static string FailedUrl(string problemType) =>
        "/login?error=" + Uri.EscapeDataString(problemType.Replace(ProblemTypes.Prefix, "", StringComparison.Ordinal));

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
        var outcome = await OidcOperations.ResolveUserAsync(db, settings, external.Principal, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var user = outcome.Value!;
        var (token, row) = await accounts.IssueTokenAsync(user, ct);
        return TypedResults.Ok(new TokenResponse(token, row.ExpiresAt, user.Id.Hex()));
    }
}
