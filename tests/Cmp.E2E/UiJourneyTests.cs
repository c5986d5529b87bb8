using System.Text.RegularExpressions;
using Cmp.E2E.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cmp.E2E;

/// <summary>
/// The seller's and the buyer's journeys done entirely in the browser, on a fresh server: nothing below calls the
/// API. Every main page passes axe-core on the way, and is photographed at desktop and phone width for the README.
/// </summary>
public sealed class UiJourneyTests(UiFixture ui) : IClassFixture<UiFixture>
{
    private const string Password = "Correct-Horse-42-Battery";

    private static string Sample(string name) => Path.Combine(Marketplace.RepositoryRoot(), "..", "shared", "langflow-samples", "1.7", name + ".json");

    private static ILocator Button(IPage page, string name) => page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    private static ILocator Link(IPage page, string name) => page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

    private static ILocator Tab(IPage page, string name) => page.GetByRole(AriaRole.Tab, new() { Name = name });

    /// <summary>axe-core, then a screenshot at desktop width and one at 375 px in a second tab with the same cookies.</summary>
    private async Task CheckPageAsync(IPage page, string name)
    {
        await Axe.AssertAccessibleAsync(page, name);
        await page.ScreenshotAsync(new() { Path = BrowserFixture.Screenshot($"ui-{name}-desktop.png"), FullPage = true });
        var state = await page.Context.StorageStateAsync();
        var phone = await ui.NewPageAsync(375, 812, state);
        try
        {
            await phone.GotoAsync(page.Url);
            await Expect(phone.GetByRole(AriaRole.Heading, new() { Level = 1 }).First).ToBeVisibleAsync();
            var overflow = await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth + 1");
            Assert.False(overflow, $"{name} scrolls sideways at 375 px");
            await phone.ScreenshotAsync(new() { Path = BrowserFixture.Screenshot($"ui-{name}-phone.png"), FullPage = true });
        }
        finally
        {
            await phone.Context.CloseAsync();
        }
    }

    /// <summary>Sign up, open the link of the verification mail (read by staff on the stored-emails page), sign in.</summary>
    private async Task<IPage> NewUserAsync(string email, string name)
    {
        var page = await ui.NewPageAsync();
        await page.GotoAsync("/");
        await Link(page, "Sign up").ClickAsync();
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Full name").FillAsync(name);
        await page.GetByLabel("Password").FillAsync(Password);
        await Button(page, "Create account").ClickAsync();
        await Expect(page.GetByText(new Regex("Check your mail", RegexOptions.IgnoreCase))).ToBeVisibleAsync();

        var link = await VerificationLinkAsync(email);
        await page.GotoAsync(link);
        var verify = page.GetByRole(AriaRole.Button, new() { Name = "Verify my email address" });
        if (await verify.CountAsync() > 0)
        {
            await verify.ClickAsync();
        }
        await Expect(page.GetByText(new Regex("verified", RegexOptions.IgnoreCase)).First).ToBeVisibleAsync();

        await page.GotoAsync("/login");
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(Password);
        await Button(page, "Sign in").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToBeVisibleAsync();
        return page;
    }

    private IPage? _staff;

    private async Task<IPage> StaffAsync()
    {
        if (_staff is not null)
        {
            return _staff;
        }
        var page = await ui.NewPageAsync();
        await page.GotoAsync("/login");
        await page.GetByLabel("Email").FillAsync(CmpServer.StaffEmail);
        await page.GetByLabel("Password").FillAsync(CmpServer.StaffPassword);
        await Button(page, "Sign in").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToBeVisibleAsync();
        return _staff = page;
    }

    /// <summary>The link in the newest mail to <paramref name="email"/>, as staff read it on the stored-emails page.</summary>
    private async Task<string> VerificationLinkAsync(string email)
    {
        var staff = await StaffAsync();
        await staff.GotoAsync("/admin/emails");
        await staff.GetByLabel("Search by recipient or subject").FillAsync(email);
        await staff.GetByLabel("Search by recipient or subject").PressAsync("Enter");
        await staff.GetByText("Verify your email address for CMP").First.ClickAsync();
        var anchor = staff.Locator("a[href*='/verify-email?token=']").First;
        await Expect(anchor).ToBeVisibleAsync();
        var text = await anchor.GetAttributeAsync("href") ?? "";
        return Regex.Match(text, @"https?://\S+/verify-email\?token=[A-Za-z0-9_\-]+").Value;
    }

    private static async Task CreateOrganizationAsync(IPage page, string name)
    {
        await page.GotoAsync("/organizations/new");
        await page.GetByLabel("Name").First.FillAsync(name);
        await Button(page, "Create organization").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Organization settings");
        await Expect(page.GetByText(name).First).ToBeVisibleAsync();
    }

    [Fact]
    public async Task SellerPublishes_BuyerOrdersBrandsEmbedsAndChats_EntirelyInTheBrowser()
    {
        // The public pages first, as a visitor sees them.
        var visitor = await ui.NewPageAsync();
        await visitor.GotoAsync("/");
        await CheckPageAsync(visitor, "home");

        // Seller: account, organization, provider registration.
        var seller = await NewUserAsync("sam@seller.example", "Sam Seller");
        await CreateOrganizationAsync(seller, "Sam's Agents");
        await CheckPageAsync(seller, "organization-settings");
        await Tab(seller, "Marketplace").ClickAsync();
        await Button(seller, "Register as provider").ClickAsync();
        await Expect(seller.GetByText(new Regex("registered as a service provider", RegexOptions.IgnoreCase)).First).ToBeVisibleAsync();

        // Seller: an agent, its flow, a plan, published.
        await seller.GotoAsync("/marketplace/service-providers/agents/");
        await seller.GetByLabel("Name").First.FillAsync("Trail Guide");
        await seller.GetByLabel("Category").ClickAsync();
        await seller.GetByRole(AriaRole.Option, new() { Name = "Assistants" }).ClickAsync();
        // The choice reaches the server before the next step: the list has closed and the select shows it.
        await Expect(seller.GetByRole(AriaRole.Option, new() { Name = "Assistants" })).ToBeHiddenAsync();
        await Expect(seller.GetByText("Assistants", new() { Exact = true }).First).ToBeVisibleAsync();
        await seller.GetByLabel("Description").First.FillAsync("Answers questions about hiking gear.");
        await seller.GetByLabel("Description").First.PressAsync("Tab");
        await Button(seller, "Create agent").ClickAsync();
        await Expect(seller.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("Trail Guide");
        await Tab(seller, "Flow").ClickAsync();
        await seller.GetByLabel("Langflow export").SetInputFilesAsync(Sample("Basic Prompting"));
        await Expect(seller.GetByText("and ready: try it in the Test chat tab")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Expect(seller.Locator("svg[role=img] g[data-node]")).ToHaveCountAsync(4);
        await CheckPageAsync(seller, "seller-agent-flow");

        await Tab(seller, "Plans").ClickAsync();
        await Button(seller, "Add plan").ClickAsync();
        await seller.GetByLabel("Plan name").FillAsync("Starter");
        await seller.GetByLabel("Currency").FillAsync("EUR");
        await seller.GetByLabel("Component name").FillAsync("Monthly");
        await seller.GetByLabel("Price per month").FillAsync("49.00");
        // A price per call too, so the buyer's call shows on the invoice.
        await Button(seller, "Add component").ClickAsync();
        var perCall = seller.Locator("fieldset[data-index='1']");
        await perCall.GetByLabel("Billing type").ClickAsync();
        await seller.GetByRole(AriaRole.Option, new() { NameRegex = new Regex("^USAGE") }).ClickAsync();
        await Expect(seller.GetByRole(AriaRole.Option, new() { NameRegex = new Regex("^USAGE") })).ToBeHiddenAsync();
        await perCall.GetByLabel("Component name").FillAsync("Per call");
        await perCall.GetByLabel("Price per unit").FillAsync("0.01");
        await perCall.GetByLabel("Price per unit").PressAsync("Tab");
        await Button(seller, "Save plan").ClickAsync();
        await Expect(seller.GetByText("Starter").First).ToBeVisibleAsync();
        await CheckPageAsync(seller, "seller-agent-plans");

        await Button(seller, "Publish").ClickAsync();
        await Expect(seller.GetByText("ACTIVE").First).ToBeVisibleAsync();
        var sellerAgentUrl = seller.Url;

        // Buyer: account, organization (with its default project), the catalog, an order.
        var buyer = await NewUserAsync("bea@buyer.example", "Bea Buyer");
        await CreateOrganizationAsync(buyer, "Acme Outdoor");
        await buyer.GotoAsync("/marketplace/");
        await buyer.GetByLabel("Search").FillAsync("Trail");
        await buyer.GetByLabel("Search").PressAsync("Enter");
        await CheckPageAsync(buyer, "marketplace");
        await Link(buyer, "Trail Guide").ClickAsync();
        await Expect(buyer.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("Trail Guide");
        await Expect(buyer.GetByText("49.00").First).ToBeVisibleAsync();
        await CheckPageAsync(buyer, "offering");
        await Link(buyer, "Order").ClickAsync();
        await buyer.GetByRole(AriaRole.Radio, new() { NameRegex = new Regex("Starter") }).CheckAsync();
        await Button(buyer, "Place order").ClickAsync();
        await Expect(buyer.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("Trail Guide");

        // Buyer: persona and branding, allowed domain, a publishable key, the embed code.
        await Tab(buyer, "Persona & branding").ClickAsync();
        await buyer.GetByLabel("Agent name").FillAsync("Acme Trail Helper");
        await buyer.GetByLabel("Greeting").FillAsync("Hi! Ask me about boots and tents.");
        await Button(buyer, "Save persona and branding").ClickAsync();
        await Expect(buyer.GetByText("Persona and branding saved.")).ToBeVisibleAsync();
        await CheckPageAsync(buyer, "buyer-branding");

        await Tab(buyer, "Widget").ClickAsync();
        await buyer.GetByLabel("Add a domain").FillAsync("localhost");
        await Button(buyer, "Add domain").ClickAsync();
        await Button(buyer, "Save widget settings").ClickAsync();
        await Expect(buyer.GetByText("Widget settings saved.")).ToBeVisibleAsync();
        var embed = await buyer.GetByLabel("Embed code").InnerTextAsync();

        await Tab(buyer, "API keys").ClickAsync();
        await buyer.GetByLabel("Key name").FillAsync("Website");
        await Button(buyer, "Create key").ClickAsync();
        var key = Regex.Match(await buyer.GetByLabel("Key", new() { Exact = true }).InnerTextAsync(), "ar_pk_live_[A-Za-z0-9]+").Value;
        Assert.NotEmpty(key);
        await CheckPageAsync(buyer, "buyer-keys");

        // Tenancy both ways: each side's page is "Not found" to the other, with no action on it.
        var subscriptionUrl = buyer.Url;
        await buyer.GotoAsync(sellerAgentUrl);
        await Expect(buyer.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Not found");
        await Expect(Button(buyer, "Pause")).ToHaveCountAsync(0);
        await seller.GotoAsync(subscriptionUrl);
        await Expect(seller.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Not found");
        await Expect(Button(seller, "Create key")).ToHaveCountAsync(0);
        await buyer.GotoAsync(subscriptionUrl);

        // The customer's website on another origin, with the embed code pasted in (the key where it says so).
        var snippet = embed.Contains("ar_pk_live_", StringComparison.Ordinal) ? embed : embed.Replace("YOUR_PUBLISHABLE_KEY", key, StringComparison.Ordinal);
        var site = await ui.NewPageAsync();
        await site.GotoAsync(ui.Site.AllowedOrigin + ui.Site.Publish(snippet));
        await site.GetByRole(AriaRole.Button, new() { Name = "Open chat", Exact = true }).ClickAsync();
        var dialog = site.GetByRole(AriaRole.Dialog, new() { Name = "Acme Trail Helper", Exact = true });
        await Expect(dialog).ToBeVisibleAsync();
        await dialog.GetByRole(AriaRole.Textbox, new() { Name = "Message", Exact = true }).FillAsync("Which boots for rain?");
        await dialog.GetByRole(AriaRole.Textbox, new() { Name = "Message", Exact = true }).PressAsync("Enter");
        await Expect(site.GetByRole(AriaRole.Log)).ToContainTextAsync("Which boots for rain?");
        await Expect(site.GetByRole(AriaRole.Log).Locator("[data-role=assistant], .assistant").Last).Not.ToBeEmptyAsync();

        // Back in the console: the call is in the usage chart and table.
        // Turns are written behind the answer (the turn writer batches them): open the tab again until it has the call.
        var chart = buyer.GetByRole(AriaRole.Heading, new() { Name = "Invocations by day" });
        for (var attempt = 0; attempt < 20 && !await chart.IsVisibleAsync(); attempt++)
        {
            await buyer.ReloadAsync();
            await Tab(buyer, "Usage").ClickAsync();
            await buyer.GetByText(new Regex("Invocations by day|No usage in this period")).First.WaitForAsync();
        }
        await Expect(chart).ToBeVisibleAsync();
        await Expect(buyer.GetByRole(AriaRole.Row, new() { NameRegex = new Regex("Website|Widget sessions") })).ToContainTextAsync("1");
        await CheckPageAsync(buyer, "buyer-usage");

        // The call is on this month's invoice: the buyer's Invoices page, the open month's invoice, its lines.
        await Link(buyer, "Invoices").ClickAsync();
        await Expect(buyer.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Invoices");
        var thisMonth = buyer.GetByRole(AriaRole.Link, new() { NameRegex = new Regex("invoice in EUR$") }).First;
        await Expect(thisMonth).ToBeVisibleAsync();
        await Expect(buyer.GetByText("Open month").First).ToBeVisibleAsync();
        await CheckPageAsync(buyer, "buyer-invoices");
        await thisMonth.ClickAsync();
        await Expect(buyer.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("Invoice ·");
        await Expect(buyer.GetByText("This is the month so far").First).ToBeVisibleAsync();
        await Expect(buyer.GetByRole(AriaRole.Row, new() { NameRegex = new Regex("Per call") })).ToContainTextAsync("1 invocation");
        await Expect(buyer.GetByRole(AriaRole.Row, new() { NameRegex = new Regex("Monthly") })).ToContainTextAsync("49.00 EUR per month");
        await CheckPageAsync(buyer, "invoice");
        // Printed, the page is the invoice alone.
        await buyer.EmulateMediaAsync(new() { Media = Media.Print });
        await Expect(buyer.Locator(".mud-appbar")).ToBeHiddenAsync();
        await Expect(buyer.Locator(".mud-drawer")).ToBeHiddenAsync();
        await Expect(Button(buyer, "Print")).ToBeHiddenAsync();
        await Expect(buyer.GetByRole(AriaRole.Row, new() { NameRegex = new Regex("Per call") })).ToBeVisibleAsync();
        await buyer.EmulateMediaAsync(new() { Media = Media.Screen });
        var download = await buyer.RunAndWaitForDownloadAsync(() => buyer.GetByText("Download CSV").ClickAsync());
        Assert.Matches("^invoice-[0-9]{4}-[0-9]{2}-EUR-acme-outdoor\\.csv$", download.SuggestedFilename);
        var csv = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.Contains(",Starter,Per call,USAGE,invocation,1,0.01,", csv);

        // The rest of the main pages, as their users see them after the journeys.
        await buyer.GotoAsync("/customer/orders/");
        await Expect(buyer.GetByRole(AriaRole.Cell, new() { Name = "Trail Guide" }).First).ToBeVisibleAsync();
        await CheckPageAsync(buyer, "buyer-orders");
        await buyer.GotoAsync("/account");
        await Expect(buyer.GetByText("bea@buyer.example").First).ToBeVisibleAsync();
        await CheckPageAsync(buyer, "account");
        await seller.GotoAsync("/marketplace/service-providers/agents/");
        await Expect(Link(seller, "Trail Guide")).ToBeVisibleAsync();
        await CheckPageAsync(seller, "seller-agents");
        await Link(seller, "Revenue").ClickAsync();
        await Expect(seller.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Revenue");
        await Expect(seller.GetByRole(AriaRole.Row, new() { NameRegex = new Regex("Trail Guide") })).ToBeVisibleAsync();
        await Expect(seller.GetByText(new Regex(@"^Platform fee \(")).First).ToBeVisibleAsync();
        await CheckPageAsync(seller, "revenue");
        var staff = await StaffAsync();
        foreach (var (path, name, shows) in new[]
        {
            ("/admin/organizations", "admin-organizations", "Sam's Agents"),
            ("/admin/providers", "admin-providers", "Sam's Agents"),
            ("/admin/orders", "admin-orders", "Trail Guide"),
            ("/admin/invoices", "admin-invoices", "Acme Outdoor"),
            ("/admin/emails", "admin-emails", "bea@buyer.example"),
            ("/admin/settings", "admin-settings", "EMAIL_VERIFICATION_REQUIRED"),
        })
        {
            await staff.GotoAsync(path);
            await Expect(staff.GetByText(shows).First).ToBeVisibleAsync();
            await CheckPageAsync(staff, name);
        }
    }
}
