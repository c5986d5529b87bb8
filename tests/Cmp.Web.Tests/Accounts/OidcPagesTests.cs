using System.Net;
using Cmp.Web.Tests.Peers;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Accounts;

/// <summary>The web UI's OIDC sign-in: the API's round trip and user resolution, ending in the sign-in cookie.</summary>
public sealed class OidcPagesTests(OidcFactory factory) : IClassFixture<OidcFactory>
{
    /// <summary>The browser's walk from the sign-in button to CMP's last redirect; returns the browser and that redirect.</summary>
    private async Task<(HttpClient Browser, Uri Location)> SignInAsync(OidcUser user, string returnUrl)
    {
        factory.Provider.NextUser = user;
        var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var start = await browser.GetAsync("/account/oidc?returnUrl=" + Uri.EscapeDataString(returnUrl));
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        Assert.StartsWith(factory.Provider.Authority, start.Headers.Location!.ToString());

        using var toProvider = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var authorized = await toProvider.GetAsync(start.Headers.Location);
        var callback = await browser.GetAsync(authorized.Headers.Location!.PathAndQuery);
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        Assert.StartsWith("/account/oidc/complete", callback.Headers.Location!.OriginalString);

        var complete = await browser.GetAsync(callback.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, complete.StatusCode);
        return (browser, complete.Headers.Location!);
    }

    [Fact]
    public async Task OidcButton_SignsTheCookieInAndReturnsWhereTheUserWas()
    {
        var email = $"oidc-ui-{Guid.NewGuid():N}@example.com";
        var (browser, location) = await SignInAsync(new OidcUser(Guid.NewGuid().ToString(), email, true, "Ula"), "/account");

        Assert.Equal("/account", location.OriginalString);
        using var account = await browser.GetAsync("/account");
        Assert.Equal(HttpStatusCode.OK, account.StatusCode);
        Assert.True(await factory.WithDbAsync(db => db.Users.AnyAsync(u => u.Email == email && u.EmailVerified)));

        // Without the cookie the console page sends the browser to sign in.
        using var anonymous = await factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false }).GetAsync("/account");
        Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
        Assert.StartsWith("/login", anonymous.Headers.Location!.AbsolutePath);
    }

    [Fact]
    public async Task OidcButton_OffSiteReturnUrl_StaysOnTheSite()
    {
        var (_, location) = await SignInAsync(new OidcUser(Guid.NewGuid().ToString(), $"oidc-ui-{Guid.NewGuid():N}@example.com", true, "R"), "//evil.example/");
        Assert.Equal("/customer/agents/", location.OriginalString);
    }

    [Fact]
    public async Task OidcButton_UnverifiedEmail_GoesBackToSignInWithTheReason_AndSignsNothingIn()
    {
        var email = $"oidc-ui-{Guid.NewGuid():N}@example.com";
        var (browser, location) = await SignInAsync(new OidcUser(Guid.NewGuid().ToString(), email, false, "N"), "/account");

        Assert.Equal("/login?error=oidc-email-not-verified", location.OriginalString);
        Assert.Contains("did not confirm your email address", await browser.GetStringAsync(location.OriginalString));
        using var account = await browser.GetAsync("/account");
        Assert.Equal(HttpStatusCode.Redirect, account.StatusCode);
        Assert.False(await factory.WithDbAsync(db => db.Users.AnyAsync(u => u.Email == email)));
    }
}
