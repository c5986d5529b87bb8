using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Cmp.Web.Features.Accounts;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Accounts;

/// <summary>
/// The static account pages (server-rendered HTML forms with antiforgery) through the real pipeline: each runs
/// the operation its API endpoint runs.
/// </summary>
public sealed partial class AccountPagesTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private const string NewPassword = "Velvet-Canyon-Lantern-31";
    private readonly Api _api = new(factory);

    /// <summary>A browser-like client: keeps cookies (the antiforgery one), follows no redirect.</summary>
    private HttpClient Browser() => factory.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>Loads <paramref name="url"/>, fills the form named <paramref name="formName"/> (its hidden fields as rendered) and posts it.</summary>
    private static async Task<(HttpStatusCode Status, string Html)> SubmitAsync(HttpClient browser, string url, string formName, Dictionary<string, string> fields)
    {
        var page = await browser.GetStringAsync(url);
        var form = FormTag().Matches(page).Select(m => m.Value).FirstOrDefault(f => f.Contains($"value=\"{formName}\"", StringComparison.Ordinal));
        Assert.True(form is not null, $"no form {formName} on {url}: {page}");
        var values = HiddenInput().Matches(form).ToDictionary(m => WebUtility.HtmlDecode(m.Groups["name"].Value), m => WebUtility.HtmlDecode(m.Groups["value"].Value));
        foreach (var (name, value) in fields)
        {
            values[name] = value;
        }
        using var response = await browser.PostAsync(url, new FormUrlEncodedContent(values));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [GeneratedRegex("<form[^>]*>.*?</form>", RegexOptions.Singleline)]
    private static partial Regex FormTag();

    [GeneratedRegex("<input[^>]*type=\"hidden\"[^>]*name=\"(?<name>[^\"]+)\"[^>]*value=\"(?<value>[^\"]*)\"")]
    private static partial Regex HiddenInput();

    private Task<bool> VerifiedAsync(string email) =>
        factory.WithDbAsync(db => db.Users.Where(u => u.Email == email).Select(u => u.EmailVerified).SingleAsync());

    [Fact]
    public async Task SignUpPage_ValidForm_CreatesTheAccountAndSaysCheckYourMail()
    {
        var email = $"page-{Guid.NewGuid():N}@example.com";
        var (status, html) = await SubmitAsync(Browser(), "/signup", "signup",
            new() { ["Input.Email"] = email, ["Input.FullName"] = "Grace", ["Input.Password"] = Api.Password });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Check your mail", html);
        Assert.False(await VerifiedAsync(email));
        Assert.Contains("/verify-email?token=", (await _api.LatestEmailAsync(email))["body"]!.GetValue<string>());
    }

    [Fact]
    public async Task SignUpPage_WeakPassword_Is400WithTheMessageNextToThePassword()
    {
        var email = $"page-{Guid.NewGuid():N}@example.com";
        var (status, html) = await SubmitAsync(Browser(), "/signup", "signup",
            new() { ["Input.Email"] = email, ["Input.FullName"] = "Weak", ["Input.Password"] = "password123" });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Matches("id=\"password-error\"[^>]*>[^<]*too common", html);
        Assert.False(await factory.WithDbAsync(db => db.Users.AnyAsync(u => u.Email == email)));
    }

    [Fact]
    public async Task VerifyEmailPage_OpeningTheLinkUsesNothing_TheButtonVerifiesOnce()
    {
        var email = $"page-{Guid.NewGuid():N}@example.com";
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "V" }), HttpStatusCode.Created);
        var token = await _api.VerificationTokenAsync(email);
        var browser = Browser();

        // A mail scanner's GET: the page only offers the button.
        var opened = await browser.GetStringAsync($"/verify-email?token={token}");
        Assert.Contains("Verify my email address", opened);
        Assert.False(await VerifiedAsync(email));

        var (status, html) = await SubmitAsync(browser, $"/verify-email?token={token}", "verify-email", []);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Your email address is verified", html);
        Assert.Contains("/login?verified=true", html);
        Assert.True(await VerifiedAsync(email));

        // The same link again: the operation's refusal, shown as the page's alert.
        (status, html) = await SubmitAsync(browser, $"/verify-email?token={token}", "verify-email", []);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("unknown, expired or already used", html);
    }

    [Fact]
    public async Task PasswordResetPages_RequestThenChooseANewPassword_SignsInWithIt()
    {
        var user = await _api.NewUserAsync();
        var browser = Browser();

        var (status, html) = await SubmitAsync(browser, "/password-reset", "password-reset-request", new() { ["Request.Email"] = user.Email });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("If that address has an active account", html);
        var token = await _api.VerificationTokenAsync(user.Email);
        var link = $"/password-reset?token={token}";

        (status, html) = await SubmitAsync(browser, link, "password-reset-confirm", new() { ["Confirm.Password"] = "short" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Matches("id=\"password-error\"[^>]*>[^<]*at least", html);

        (status, html) = await SubmitAsync(browser, link, "password-reset-confirm", new() { ["Confirm.Password"] = NewPassword });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Your password is changed", html);
        await _api.LoginAsync(user.Email, NewPassword);

        // The used link now says so as soon as it is opened.
        using var reopened = await browser.GetAsync(link);
        Assert.Equal(HttpStatusCode.BadRequest, reopened.StatusCode);
        Assert.Contains("unknown, expired or already used", await reopened.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PasswordResetPage_UnknownEmail_AnswersTheSameAndMailsNothing()
    {
        var email = $"nobody-{Guid.NewGuid():N}@example.com";
        var (status, html) = await SubmitAsync(Browser(), "/password-reset", "password-reset-request", new() { ["Request.Email"] = email });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(WebUtility.HtmlEncode(PasswordOperations.ResetRequestedDetail), html);
        Assert.Equal(0, await factory.WithDbAsync(db => db.Emails.CountAsync(e => e.To == email)));
    }

    [Fact]
    public async Task LoginPage_RefusedOidcSignIn_ExplainsKnownReasonsOnly()
    {
        var browser = Browser();
        Assert.Contains("only admits invited users", await browser.GetStringAsync("/login?error=oidc-uninvited"));
        var spoofed = await browser.GetStringAsync("/login?error=" + Uri.EscapeDataString("Call +1 555 0100 to unlock"));
        Assert.DoesNotContain("555 0100", spoofed);
    }

    [Fact]
    public async Task OidcUiStart_WithoutAProvider_GoesBackToSignInSayingSo()
    {
        using var response = await Browser().GetAsync("/account/oidc?returnUrl=/account");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/login?error=oidc-disabled", response.Headers.Location?.OriginalString);
    }
}
