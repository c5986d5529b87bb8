using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using AngleSharp.Dom;
using Bunit;
using Cmp.Web.Components;
using Cmp.Web.Features.AgentConfigs.Pages;
using Cmp.Web.Features.Billing.Pages;
using Cmp.Web.Infrastructure.Settings;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Cmp.Web.Tests.Billing.Billing;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The buyer's invoices (list, printable page, "This month so far", the CSV download) and the seller's revenue, rendered
/// over the real database on the factory's clock: what an owner sees, hand-computed, and what everyone else does not.
/// Each test has its own organizations and its own month; none closes a month.
/// </summary>
public sealed partial class BillingPagesTests : IClassFixture<BillingFactory>, IAsyncLifetime
{
    private readonly BillingFactory _factory;
    private readonly Api _api;
    private readonly ConsolePageHost _host;

    public BillingPagesTests(BillingFactory factory)
    {
        _factory = factory;
        _api = new Api(factory);
        _host = new ConsolePageHost(factory);
        _host.Bunit.Services.AddSingleton<TimeProvider>(factory.Clock);
        _host.Bunit.Services.AddSingleton(factory.Services.GetRequiredService<PlatformSettings>());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<Workspace> WorkspaceAsync(string email, string organization) => _host.WorkspaceAsync(email, organization);

    private static string Text(IElement element) => Whitespace().Replace(element.TextContent, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    private static List<string> Cells(IElement row) => row.QuerySelectorAll("td, th").Select(Text).ToList();

    private static IElement Row<T>(IRenderedComponent<T> cut, string text) where T : Microsoft.AspNetCore.Components.IComponent =>
        cut.FindAll("tbody tr").Single(r => r.TextContent.Contains(text, StringComparison.Ordinal));

    /// <summary>A plan of a monthly fee and a price per call, one call on the 3rd, terminated on the 14th at 10:00.</summary>
    private async Task<BuyerWorld> AprilWorldAsync()
    {
        _factory.At(2026, 4, 1, 8);
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00"), PerCall("0.01")));
        var key = await world.KeyAsync();
        _factory.At(2026, 4, 3, 10);
        await CallAsync(_factory.CreateClient(), key);
        _factory.At(2026, 4, 14, 10);
        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        _factory.At(2026, 4, 20, 9);
        return world;
    }

    [Fact]
    public async Task Invoices_Owner_SeesTheOpenMonth_AndItsPrintableInvoiceWithEveryLine()
    {
        var world = await AprilWorldAsync();
        var workspace = await WorkspaceAsync(world.Buyer.Email, world.Customer);

        var list = await _host.RenderPageAsync<CustomerInvoices>(workspace);
        list.WaitForAssertion(() => Assert.Contains("April 2026", list.Markup));
        var uuid = (await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4))["uuid"]!.GetValue<string>();
        var row = Row(list, "April 2026");
        // Basic from April 1, terminated on the 14th: FIXED 30.00 × 14 / 30 = 14.00; one call × 0.01 = 0.01.
        Assert.Equal(["April 2026", "EUR", "Open month", "14.01 EUR"], Cells(row));
        Assert.Equal($"/customer/invoices/{uuid}", row.QuerySelector("a")!.GetAttribute("href"));

        var page = await _host.RenderPageAsync<CustomerInvoice>(workspace, (nameof(CustomerInvoice.Uuid), uuid));
        page.WaitForAssertion(() => Assert.Contains("Invoice · April 2026", page.Find("h1").TextContent));
        Assert.Contains("This is the month so far", page.Markup);
        Assert.Contains(uuid, page.Find(".invoice-facts").TextContent);
        var resource = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/marketplace-resources/{world.Resource}/"), HttpStatusCode.OK);
        Assert.Equal([resource["name"]!.GetValue<string>(), resource["offering_name"]!.GetValue<string>(), "Basic", "Monthly fee", "FIXED", "14 of 30 days", "30.00 EUR per month", "14.00 EUR"],
            Cells(Row(page, "Monthly fee")));
        Assert.Equal(["Basic", "Per call", "USAGE", "1 invocation", "0.01 EUR per invocation", "0.01 EUR"], Cells(Row(page, "Per call"))[2..]);
        Assert.Equal(["Total", "14.01 EUR"], Cells(page.Find("tfoot tr")));
        var csv = page.FindAll("a").Single(a => a.TextContent.Trim() == "Download CSV");
        Assert.Equal($"/customer/invoices/{uuid}/csv", csv.GetAttribute("href"));
        Assert.NotNull(csv.GetAttribute("download"));
        Assert.Equal(2, page.FindAll(".no-print").Count); // the back link and the buttons: left out of the printed page

        await page.FindAll("button").Single(b => b.TextContent.Trim() == "Print").ClickAsync();
        _host.Bunit.JSInterop.VerifyInvoke("cmp.print");
    }

    [Fact]
    public async Task Invoices_AMemberAndAnotherOrganization_SeeNoInvoice()
    {
        _factory.At(2026, 5, 2, 8);
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("31.00")));
        var member = await _api.NewUserAsync();
        await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/projects/{world.Project}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Created);
        var (stranger, strangerOrg, _) = await BuyerWorld.NewBuyerAsync(_api);
        var uuid = (await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 5))["uuid"]!.GetValue<string>();

        var asMember = await _host.RenderPageAsync<CustomerInvoices>(await WorkspaceAsync(member.Email, world.Customer));
        asMember.WaitForAssertion(() => Assert.Contains("Only the owners of", asMember.Markup));
        Assert.Empty(asMember.FindAll("table"));
        Assert.DoesNotContain("May 2026", asMember.Markup);

        var memberInvoice = await _host.RenderPageAsync<CustomerInvoice>(await WorkspaceAsync(member.Email, world.Customer), (nameof(CustomerInvoice.Uuid), uuid));
        memberInvoice.WaitForAssertion(() => Assert.Equal("Not found", memberInvoice.Find("h1").TextContent.Trim()));
        Assert.DoesNotContain("31.00", memberInvoice.Markup);

        var strangerInvoice = await _host.RenderPageAsync<CustomerInvoice>(await WorkspaceAsync(stranger.Email, strangerOrg), (nameof(CustomerInvoice.Uuid), uuid));
        strangerInvoice.WaitForAssertion(() => Assert.Equal("Not found", strangerInvoice.Find("h1").TextContent.Trim()));
        Assert.DoesNotContain("31.00", strangerInvoice.Markup);
        var strangerList = await _host.RenderPageAsync<CustomerInvoices>(await WorkspaceAsync(stranger.Email, strangerOrg));
        strangerList.WaitForAssertion(() => Assert.Contains("No invoices yet", strangerList.Markup));
        Assert.Contains("once one of your organization's agents is active", strangerList.Markup);
    }

    [Fact]
    public async Task MonthSoFar_Owner_SeesTheAgentsLinesAndTheInvoice_AMemberASentence()
    {
        _factory.At(2026, 6, 1, 8);
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00"), PerCall("0.01")));
        var key = await world.KeyAsync();
        _factory.At(2026, 6, 2, 12);
        var gateway = _factory.CreateClient();
        await CallAsync(gateway, key);
        await CallAsync(gateway, key);
        _factory.At(2026, 6, 10, 9);
        var member = await _api.NewUserAsync();
        await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/projects/{world.Project}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Created);

        var asOwner = await _host.RenderPageAsync<PlanTab>(await WorkspaceAsync(world.Buyer.Email, world.Customer),
            (nameof(PlanTab.ResourceUuid), world.Resource), (nameof(PlanTab.CanManage), true));
        asOwner.WaitForAssertion(() => Assert.Contains("So far", asOwner.Markup));
        // June has 30 days, all on Basic: 30.00; two calls × 0.01 = 0.02.
        Assert.Equal(["Basic", "Monthly fee", "30 of 30 days", "30.00 EUR"], Cells(Row(asOwner, "Monthly fee")));
        Assert.Equal(["Basic", "Per call", "2 invocations", "0.02 EUR"], Cells(Row(asOwner, "Per call")));
        Assert.Equal(["So far", "30.02 EUR"], Cells(asOwner.Find("tfoot tr")));
        var uuid = (await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 6))["uuid"]!.GetValue<string>();
        var link = asOwner.FindAll("a").Single(a => a.TextContent.Trim() == "June 2026 invoice (EUR)");
        Assert.Equal($"/customer/invoices/{uuid}", link.GetAttribute("href"));

        var asMember = await _host.RenderPageAsync<PlanTab>(await WorkspaceAsync(member.Email, world.Customer),
            (nameof(PlanTab.ResourceUuid), world.Resource), (nameof(PlanTab.CanManage), false));
        asMember.WaitForAssertion(() => Assert.Contains("shown to the owners of its organization", asMember.Markup));
        Assert.DoesNotContain("30.02", asMember.Markup);
        Assert.DoesNotContain("/customer/invoices/", asMember.Markup);
    }

    [Fact]
    public async Task Revenue_SellerOwner_SeesTheMonth_AnotherSellerAndASupportMemberDoNot()
    {
        _factory.At(2026, 7, 1, 8);
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00"), PerCall("0.01")));
        var key = await world.KeyAsync();
        _factory.At(2026, 7, 2, 12);
        await CallAsync(_factory.CreateClient(), key);
        _factory.At(2026, 7, 10, 9);
        var agentName = (await Json.ReadAsync(await world.Seller.Owner.Client.GetAsync($"/api/provider-agents/{world.Agent}/"), HttpStatusCode.OK))["name"]!.GetValue<string>();

        var asSeller = await _host.RenderPageAsync<ProviderRevenue>(await WorkspaceAsync(world.Seller.Owner.Email, world.Seller.Customer));
        asSeller.WaitForAssertion(() => Assert.Contains("July 2026 so far", asSeller.Markup));
        // July: 31 of 31 days × 30.00 / 31 = 30.00, one call 0.01; fee 12.5 % of 30.01 = 3.75125 → 3.75; net 26.26.
        var figures = asSeller.FindAll(".mud-paper").Select(Text).ToList();
        Assert.Contains("Gross 30.01 EUR", figures);
        Assert.Contains("Platform fee (12.5 %) 3.75 EUR", figures);
        Assert.Contains("Net 26.26 EUR", figures);
        Assert.Equal([agentName, "30.01 EUR", "1"], Cells(Row(asSeller, agentName)));
        Assert.Contains("30.01 EUR gross and 26.26 EUR net in all; most in July 2026", asSeller.Find("div[role=img]").GetAttribute("aria-label"));

        var (other, _, _, _) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var asOther = await _host.RenderPageAsync<ProviderRevenue>(await WorkspaceAsync(other.Owner.Email, other.Customer));
        asOther.WaitForAssertion(() => Assert.Contains("July 2026 so far", asOther.Markup));
        Assert.Contains("Gross 0.00 EUR", asOther.FindAll(".mud-paper").Select(Text));
        Assert.DoesNotContain(agentName, asOther.Markup);
        Assert.DoesNotContain("30.01", asOther.Markup);

        var support = await _api.NewUserAsync();
        await Json.ReadAsync(await world.Seller.Owner.Client.PostAsJsonAsync($"/api/customers/{world.Seller.Customer}/add_user/", new { user = support.Uuid, role = "support" }), HttpStatusCode.Created);
        var asSupport = await _host.RenderPageAsync<ProviderRevenue>(await WorkspaceAsync(support.Email, world.Seller.Customer));
        asSupport.WaitForAssertion(() => Assert.Contains("Revenue is shown to the provider organization's owners and to staff.", asSupport.Markup));
        Assert.DoesNotContain("30.01", asSupport.Markup);
        Assert.Empty(asSupport.FindAll("table"));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    /// <summary>A browser-like client signed in with the console's cookie through the /login form.</summary>
    private async Task<HttpClient> SignInAsync(string email)
    {
        var browser = _factory.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = true });
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
    public async Task InvoiceCsv_OwnersBrowser_GetsTheApisFile_AnotherUserA404()
    {
        // A month still ahead of the real date: the sign-in cookie expires 12 h after the factory's clock, and the test
        // client's cookie jar, which reads the real clock, would drop a cookie that expired in the past.
        _factory.At(2031, 3, 1, 8);
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("31.00")));
        _factory.At(2031, 3, 11, 8);
        var uuid = (await InvoiceAsync(world.Buyer.Client, world.Customer, 2031, 3))["uuid"]!.GetValue<string>();
        var (stranger, _, _) = await BuyerWorld.NewBuyerAsync(_api);

        using var response = await (await SignInAsync(world.Buyer.Email)).GetAsync($"/customer/invoices/{uuid}/csv");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition!.DispositionType);
        Assert.StartsWith("invoice-2031-03-EUR-buyer-", response.Content.Headers.ContentDisposition.FileNameStar ?? response.Content.Headers.ContentDisposition.FileName!.Trim('"'));
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var csv = await response.Content.ReadAsStringAsync();
        Assert.Equal(await world.Buyer.Client.GetStringAsync($"/api/invoices/{uuid}/csv/"), csv);
        Assert.Contains(",Basic,Monthly fee,FIXED,day,31,31.00,31,31.00,", csv); // March 1..31: the whole month

        using var refused = await (await SignInAsync(stranger.Email)).GetAsync($"/customer/invoices/{uuid}/csv");
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.DoesNotContain("Monthly fee", await refused.Content.ReadAsStringAsync());

        // The console's route takes the cookie only: an API token or no one is sent to sign in.
        using var anonymous = await _api.Anonymous().GetAsync($"/customer/invoices/{uuid}/csv");
        Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
        Assert.StartsWith("/login", anonymous.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
        using var withToken = await _factory.CreateClient(new() { AllowAutoRedirect = false }).SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/customer/invoices/{uuid}/csv")
        {
            Headers = { { "Authorization", $"Token {world.Buyer.Token}" } },
        });
        Assert.Equal(HttpStatusCode.Redirect, withToken.StatusCode);
    }
}
