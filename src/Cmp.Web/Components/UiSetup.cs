using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using MudBlazor.Services;

namespace Cmp.Web.Components;

/// <summary>
/// The web UI: a Blazor Web App in this same process. Public pages (home, catalog, offering, sign-in forms)
/// render on the server as plain HTML; the consoles run Interactive Server with MudBlazor. Pages live in their
/// feature's <c>Pages/</c> folder and call the feature's operations directly, never this app's HTTP API.
/// </summary>
public static class UiSetup
{
    /// <summary>The cookie that remembers which of the user's organizations the console shows.</summary>
    public const string OrganizationCookie = "cmp.org";

    public static IServiceCollection AddCmpUi(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddMudServices();
        return services;
    }

    public static WebApplication MapCmpUi(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

        // Sign-out is a POST with an antiforgery token: a link on another site cannot sign anyone out.
        app.MapPost("/logout", async (HttpContext ctx, IAntiforgery antiforgery) =>
        {
            await antiforgery.ValidateRequestAsync(ctx);
            await ctx.SignOutAsync(CookieSignIn.Scheme);
            return Results.LocalRedirect("/");
        }).DisableAntiforgery().ExcludeFromDescription();

        // The organization switcher: remembers the choice (one of the user's own) and goes back.
        app.MapGet("/organizations/select", (HttpContext ctx, [FromQuery] string? id, [FromQuery] string? returnUrl) =>
        {
            if (Guid.TryParseExact(id, "N", out var org))
            {
                ctx.Response.Cookies.Append(OrganizationCookie, org.ToString("N"), new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Lax,
                    IsEssential = true,
                    Secure = ctx.Request.IsHttps,
                    MaxAge = TimeSpan.FromDays(365),
                });
            }
            return Results.LocalRedirect(LocalUrl(returnUrl));
        }).RequireAuthorization().ExcludeFromDescription();

        // The features' own UI endpoints (files a page offers for download).
        app.MapBillingUi();
        return app;
    }

    /// <summary>A return address that stays on this site (an open redirect otherwise).</summary>
    public static string LocalUrl(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            ? url
            : "/";
}
