using System.Net;
using Bunit;
using Cmp.Web.Features.Billing.Pages;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Cmp.Web.Tests.Billing.Billing;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The operator's invoices page over the real database: not there for anyone but staff; staff mark a created invoice
/// paid after confirming, and see the 409 when someone else moved it first. It closes April 2026 for the whole class.
/// </summary>
public sealed class AdminInvoicesPageTests : IClassFixture<BillingFactory>, IAsyncLifetime
{
    private readonly BillingFactory _factory;
    private readonly Api _api;
    private readonly ConsolePageHost _host;

    public AdminInvoicesPageTests(BillingFactory factory)
    {
        _factory = factory;
        _api = new Api(factory);
        _host = new ConsolePageHost(factory);
        _host.Bunit.Services.AddSingleton<TimeProvider>(factory.Clock);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task AdminInvoices_AnOwner_FindsNothingThere()
    {
        _factory.At(2026, 3, 2, 8);
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("31.00")));
        await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 3);

        var page = await _host.RenderPageAsync<AdminInvoices>(await _host.WorkspaceAsync(world.Buyer.Email, world.Customer));
        Assert.Equal("Not found", page.Find("h1").TextContent.Trim());
        Assert.Empty(page.FindAll("table"));
        Assert.Empty(page.FindAll("button"));
    }

    [Fact]
    public async Task AdminInvoices_StaffMarkPaidAfterConfirming_AndSeeTheConflictWhenSomeoneWasFirst()
    {
        _factory.At(2026, 4, 1, 8);
        var first = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00")));
        var second = await BuyerWorld.CreateAsync(_api, "Basic Prompting", Plan("Basic", "EUR", Fixed("60.00")));
        var firstInvoice = await InvoiceAsync(first.Buyer.Client, first.Customer, 2026, 4);
        var secondInvoice = await InvoiceAsync(second.Buyer.Client, second.Customer, 2026, 4);
        _factory.At(2026, 5, 2);
        await _factory.CloseAsync();
        string Name(System.Text.Json.Nodes.JsonObject invoice) => $"April 2026 invoice of {invoice["customer_name"]!.GetValue<string>()} in EUR";

        var host = await _host.RenderAsync<AdminInvoices>(await _host.WorkspaceAsync(CmpFactory.StaffEmail, null));
        var page = host.FindComponent<AdminInvoices>();
        page.WaitForAssertion(() => Assert.NotNull(page.FindAll("button").SingleOrDefault(b => b.GetAttribute("aria-label") == $"Mark paid: {Name(firstInvoice)}")));
        var row = page.FindAll("tbody tr").Single(r => r.TextContent.Contains(firstInvoice["customer_name"]!.GetValue<string>(), StringComparison.Ordinal)
            && r.TextContent.Contains("April 2026", StringComparison.Ordinal)); // the close opened May's invoice too
        Assert.Equal([firstInvoice["customer_name"]!.GetValue<string>(), "April 2026", "EUR", "Due", "30.00 EUR"],
            row.QuerySelectorAll("td").Take(5).Select(c => c.TextContent.Trim()).ToList());

        var marking = page.FindAll("button").Single(b => b.GetAttribute("aria-label") == $"Mark paid: {Name(firstInvoice)}").ClickAsync();
        host.WaitForAssertion(() => Assert.Contains("was paid", host.Find(".mud-dialog").TextContent));
        Assert.Equal("created", (await InvoiceAsync(first.Buyer.Client, first.Customer, 2026, 4))["state"]!.GetValue<string>());
        await host.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Mark paid").ClickAsync();
        await marking;
        page.WaitForAssertion(() => Assert.Null(page.FindAll("button").SingleOrDefault(b => b.GetAttribute("aria-label") == $"Mark paid: {Name(firstInvoice)}")));
        Assert.Equal("paid", (await InvoiceAsync(first.Buyer.Client, first.Customer, 2026, 4))["state"]!.GetValue<string>());

        // Another operator marks the second one paid over the API while this page still offers to cancel it.
        var staff = await _api.StaffAsync();
        await Json.ReadAsync(await staff.PostAsync($"/api/invoices/{secondInvoice["uuid"]}/paid/", null), HttpStatusCode.OK);
        var canceling = page.FindAll("button").Single(b => b.GetAttribute("aria-label") == $"Cancel: {Name(secondInvoice)}").ClickAsync();
        host.WaitForAssertion(() => Assert.Contains("nothing is owed for it", host.Find(".mud-dialog").TextContent));
        await host.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Cancel invoice").ClickAsync();
        await canceling;
        page.WaitForAssertion(() => Assert.Contains("it is already paid", page.Find("[role=alert]").TextContent));
        Assert.Equal("paid", (await InvoiceAsync(second.Buyer.Client, second.Customer, 2026, 4))["state"]!.GetValue<string>());
        Assert.Null(page.FindAll("button").SingleOrDefault(b => b.GetAttribute("aria-label") == $"Cancel: {Name(secondInvoice)}"));
    }
}
