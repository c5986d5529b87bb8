using System.Net;
using System.Text.RegularExpressions;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Widget;

/// <summary>The buyer console's live preview page: the real loader, nothing from the server, framed only by this site.</summary>
public sealed partial class WidgetPreviewPageTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    /// <summary>A browser-like client signed in with the console's cookie through the /login form.</summary>
    private async Task<HttpClient> SignInAsync(string email)
    {
        var browser = factory.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = true });
        var form = await browser.GetStringAsync("/login");
        using var signIn = await browser.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login",
            ["__RequestVerificationToken"] = AntiforgeryToken().Match(form).Groups[1].Value,
            ["Input.Email"] = email,
            ["Input.Password"] = Api.Password,
        }));
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        return browser;
    }

    [Fact]
    public async Task Preview_OwnResource_IsTheRealLoaderUnderAStrictPolicy()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var browser = await SignInAsync(world.Buyer.Email);

        using var response = await browser.GetAsync($"/customer/agents/{world.Resource}/widget-preview");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Matches("<script src=\"/widget/loader\\.[0-9a-f]{12}\\.js\"></script>", html);
        Assert.Contains("WaldurWidget.preview(event.data.look)", html, StringComparison.Ordinal);
        Assert.Contains("event.origin !== location.origin", html, StringComparison.Ordinal);
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("connect-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'self'", policy, StringComparison.Ordinal);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Preview_AnotherOrganizationsResource_IsNotFound()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var (stranger, _, _) = await BuyerWorld.NewBuyerAsync(_api);
        var browser = await SignInAsync(stranger.Email);

        using var response = await browser.GetAsync($"/customer/agents/{world.Resource}/widget-preview");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("WaldurWidget", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preview_Anonymous_IsSentToSignIn()
    {
        var world = await BuyerWorld.CreateAsync(_api);

        using var response = await _api.Anonymous().GetAsync($"/customer/agents/{world.Resource}/widget-preview");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login", response.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preview_ApiToken_DoesNotOpenTheConsolePage()
    {
        var world = await BuyerWorld.CreateAsync(_api);

        // Console pages read the sign-in cookie only; an API token is not a way in.
        using var response = await world.Buyer.Client.GetAsync($"/customer/agents/{world.Resource}/widget-preview");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }
}
