using System.Security.Claims;
using Cmp.Web.Features.Accounts;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Security;

/// <summary>
/// The web UI's sign-in: an encrypted, HttpOnly, SameSite=Lax cookie beside the API's token schemes. The API
/// never reads the cookie (no request under <c>/api</c> is authenticated by it, so a page on another site
/// cannot make a signed-in browser call the API); the UI never reads a token. Forms carry antiforgery tokens.
/// </summary>
public static class CookieSignIn
{
    public const string Scheme = CookieAuthenticationDefaults.AuthenticationScheme;

    /// <summary>The default scheme: the API's token handler for API paths, the cookie for everything else.</summary>
    public const string Selector = "cmp";

    public static bool IsApiPath(PathString path) =>
        path.StartsWithSegments("/api") || path.StartsWithSegments("/api-auth") || path.StartsWithSegments("/widget");

    public static AuthenticationBuilder AddCmpAuthentication(this IServiceCollection services)
    {
        var auth = services.AddAuthentication(Selector);
        auth.AddPolicyScheme(Selector, "API token or UI cookie", o =>
            o.ForwardDefaultSelector = ctx => IsApiPath(ctx.Request.Path) ? TokenAuthenticationHandler.SchemeName : Scheme);
        auth.AddCookie(Scheme, o =>
        {
            o.Cookie.Name = "cmp.session";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = TimeSpan.FromHours(12);
            o.SlidingExpiration = true;
            o.LoginPath = "/login";
            o.LogoutPath = "/logout";
            o.AccessDeniedPath = "/login";
            o.ReturnUrlParameter = "returnUrl";
            o.Events.OnValidatePrincipal = ValidateAsync;
        });
        return auth;
    }

    /// <summary>The claims a signed-in browser carries: who, and whether staff (re-read on every request).</summary>
    public static ClaimsPrincipal Principal(User user) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, user.Id.ToString()),
            new Claim(ClaimTypes.Email, user.Email),
            new Claim(ClaimTypes.Name, string.IsNullOrWhiteSpace(user.FullName) ? user.Email : user.FullName),
            new Claim(CmpClaims.IsStaffClaim, user.IsStaff ? "true" : "false"),
        ],
        Scheme));

    public static Task SignInAsync(HttpContext context, User user) =>
        context.SignInAsync(Scheme, Principal(user), new AuthenticationProperties { IsPersistent = true });

    /// <summary>
    /// A deactivated user's cookie stops working at once, and a staff flag granted or taken away applies on the
    /// next page: the cookie's claims are checked against the user row (one indexed read per page or circuit).
    /// </summary>
    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var id = context.Principal?.UserId() ?? Guid.Empty;
        var db = context.HttpContext.RequestServices.GetRequiredService<CmpDbContext>();
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, context.HttpContext.RequestAborted);
        if (user is null || !user.IsActive)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
            return;
        }
        if (context.Principal!.IsStaff() != user.IsStaff)
        {
            context.ReplacePrincipal(Principal(user));
            context.ShouldRenew = true;
        }
    }
}
