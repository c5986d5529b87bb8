using System.Net;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static Cmp.Web.Tests.Billing.Billing;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The month close: freezing, idempotence, two runners at once, late usage, staff's guarded marks. Closing a month
/// closes it for everyone, so each test has its own application and database.
/// </summary>
public sealed class MonthCloseTests
{
    private static async Task<BillingFactory> StartAsync()
    {
        var factory = new BillingFactory();
        await factory.InitializeAsync();
        return factory;
    }

    private static Task<int> CountAsync(BillingFactory factory, InvoiceState state) =>
        factory.WithDbAsync(db => db.Invoices.CountAsync(i => i.State == state));

    [Fact]
    public async Task Close_FreezesLastMonth_MailsTheOwners_AndASecondRunChangesNothing()
    {
        await using var factory = await StartAsync();
        var api = new Api(factory);
        factory.At(2026, 4, 10, 8);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00"), PerCall("0.10")));
        var key = await world.KeyAsync();
        var gateway = factory.CreateClient();
        factory.At(2026, 4, 30, 23, 59, 59, 999);
        await CallAsync(gateway, key);
        var pending = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4);
        Assert.Equal("pending", pending["state"]!.GetValue<string>());

        factory.At(2026, 5, 1, 0, 5);
        var first = await factory.CloseAsync();
        Assert.Equal((true, 1, 1), (first.Ran, first.FrozenInvoices, first.Emails));
        Assert.Equal(["2026-04"], first.ClosedMonths);

        var frozen = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/invoices/{pending["uuid"]}/"), HttpStatusCode.OK);
        Assert.Equal("created", frozen["state"]!.GetValue<string>());
        // April 10..30 = 21 days: 30 × 21 / 30 = 21.00; one call × 0.10. Total 21.10, as it was while pending.
        Assert.Equal([("Monthly fee", "Basic", "21", "21.00"), ("Per call", "Basic", "1", "0.10")], Lines(frozen));
        Assert.Equal("21.10", frozen["total"]!.GetValue<string>());
        Assert.Equal("21.10", pending["total"]!.GetValue<string>());
        Assert.NotNull(frozen["closed_at"]!.GetValue<DateTime?>());

        var mail = await api.LatestEmailAsync(world.Buyer.Email);
        Assert.Contains("April 2026: 21.10 EUR", mail["subject"]!.GetValue<string>());
        Assert.Contains($"/customer/invoices/{pending["uuid"]}", mail["body"]!.GetValue<string>());

        var second = await factory.CloseAsync();
        Assert.Equal((true, 0, 0), (second.Ran, second.FrozenInvoices, second.Emails));
        Assert.Empty(second.ClosedMonths);
        Assert.Equal(1, await factory.WithDbAsync(db => db.Emails.CountAsync(e => e.To == world.Buyer.Email && e.Subject.Contains("invoice"))));
        Assert.Equal(2, await factory.WithDbAsync(db => db.InvoiceItems.CountAsync()));

        // The current month stays pending, and now has its own invoice.
        var may = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 5);
        Assert.Equal(("pending", "30.00"), (may["state"]!.GetValue<string>(), may["total"]!.GetValue<string>()));
    }

    [Fact]
    public async Task LateUsage_AfterTheClose_NeverChangesTheFrozenInvoice()
    {
        await using var factory = await StartAsync();
        var api = new Api(factory);
        factory.At(2026, 4, 1, 8);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Pay as you go", "EUR", PerCall("1.00")));
        var key = await world.KeyAsync();
        var gateway = factory.CreateClient();
        factory.At(2026, 4, 20);
        await CallAsync(gateway, key);
        factory.At(2026, 5, 1, 1);
        await factory.CloseAsync();
        var before = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4);
        Assert.Equal(("created", "1.00"), (before["state"]!.GetValue<string>(), before["total"]!.GetValue<string>()));

        // A record stamped in April that reaches the database after the close (another instance's late write).
        await factory.WithDbAsync(async db =>
        {
            var resourceId = Guid.ParseExact(world.Resource, "N");
            var resource = await db.Resources.SingleAsync(r => r.Id == resourceId);
            var config = await db.AgentConfigs.SingleAsync(c => c.ResourceId == resourceId);
            db.UsageRecords.Add(new UsageRecord
            {
                ConfigId = config.Id,
                ResourceId = resourceId,
                PlanId = resource.PlanId,
                SessionId = "late",
                RequestId = "late-1",
                Status = UsageStatus.Completed,
                CreatedAt = BillingFactory.Utc(2026, 4, 30, 23, 59, 59),
            });
            await db.SaveChangesAsync();
        });
        var after = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/invoices/{before["uuid"]}/"), HttpStatusCode.OK);
        Assert.Equal(before.ToJsonString(), after.ToJsonString());
        await factory.CloseAsync();
        Assert.Equal(before.ToJsonString(), (await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/invoices/{before["uuid"]}/"), HttpStatusCode.OK)).ToJsonString());
        // The seller's revenue is read from the same frozen lines.
        var revenue = await Json.ReadAsync(await world.Seller.Owner.Client.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/?year=2026&month=4"), HttpStatusCode.OK);
        Assert.Equal("1.00", revenue["gross"]!.GetValue<string>());
    }

    [Fact]
    public async Task TwoInstancesClosingAtOnce_FreezeOneInvoice_AndMailOnce()
    {
        await using var factory = await StartAsync();
        var api = new Api(factory);
        factory.At(2026, 4, 1, 8);
        var worlds = new List<BuyerWorld>();
        for (var i = 0; i < 3; i++)
        {
            worlds.Add(await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00"))));
        }
        await using var second = new BillingFactory { SharedConnectionString = factory.ConnectionString };
        await second.InitializeAsync();
        _ = second.Services; // start the second host
        factory.At(2026, 5, 1, 0, 1);
        second.At(2026, 5, 1, 0, 1);

        for (var round = 0; round < 3; round++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => (i % 2 == 0 ? factory : second).CloseAsync())));
            Assert.Equal(round == 0 ? 3 : 0, results.Sum(r => r.FrozenInvoices));
            Assert.Equal(round == 0 ? 3 : 0, results.Sum(r => r.Emails));
        }
        Assert.Equal(3, await CountAsync(factory, InvoiceState.Created));
        Assert.Equal(0, await factory.WithDbAsync(db => db.Invoices.CountAsync(i => i.Month == 4 && i.State == InvoiceState.Pending)));
        Assert.Equal(3, await factory.WithDbAsync(db => db.InvoiceItems.CountAsync()));
        Assert.Equal(3, await factory.WithDbAsync(db => db.Emails.CountAsync(e => e.Subject.StartsWith("Your CMP invoice"))));
        Assert.Equal(1, await factory.WithDbAsync(db => db.BillingClosures.CountAsync()));
    }

    [Fact]
    public async Task StaffMarks_PaidOrCanceled_OnlyFromCreated()
    {
        await using var factory = await StartAsync();
        var api = new Api(factory);
        factory.At(2026, 4, 1, 8);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00")));
        var other = await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00")));
        var staff = await api.StaffAsync();
        var april = (await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4))["uuid"]!.GetValue<string>();
        var otherApril = (await InvoiceAsync(other.Buyer.Client, other.Customer, 2026, 4))["uuid"]!.GetValue<string>();

        // Still pending: the month is open.
        var open = await Json.ProblemAsync(await staff.PostAsync($"/api/invoices/{april}/paid/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Contains("still open", open["detail"]!.GetValue<string>());

        factory.At(2026, 5, 2);
        await factory.CloseAsync();
        await Json.ProblemAsync(await world.Buyer.Client.PostAsync($"/api/invoices/{april}/paid/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await other.Buyer.Client.PostAsync($"/api/invoices/{april}/paid/", null), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        Assert.Equal("created", (await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4))["state"]!.GetValue<string>());

        var paid = await Json.ReadAsync(await staff.PostAsync($"/api/invoices/{april}/paid/", null), HttpStatusCode.OK);
        Assert.Equal("paid", paid["state"]!.GetValue<string>());
        Assert.NotNull(paid["paid_at"]!.GetValue<DateTime?>());
        await Json.ProblemAsync(await staff.PostAsync($"/api/invoices/{april}/paid/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        await Json.ProblemAsync(await staff.PostAsync($"/api/invoices/{april}/cancel/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);

        var canceled = await Json.ReadAsync(await staff.PostAsync($"/api/invoices/{otherApril}/cancel/", null), HttpStatusCode.OK);
        Assert.Equal("canceled", canceled["state"]!.GetValue<string>());
        await Json.ProblemAsync(await staff.PostAsync($"/api/invoices/{otherApril}/paid/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);

        // A canceled invoice earns its seller nothing; the paid one still counts.
        var revenue = await Json.ReadAsync(await staff.GetAsync($"/api/marketplace-service-providers/{other.Seller.Provider}/revenue/?year=2026&month=4"), HttpStatusCode.OK);
        Assert.Equal("0.00", revenue["gross"]!.GetValue<string>());
        revenue = await Json.ReadAsync(await staff.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/?year=2026&month=4"), HttpStatusCode.OK);
        Assert.Equal("30.00", revenue["gross"]!.GetValue<string>());

        var paidList = await Json.ReadArrayAsync(await staff.GetAsync("/api/invoices/?state=paid"));
        Assert.Equal([april], paidList.Select(i => i!["uuid"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ActivationOnFeb29_FebruaryInvoiceHasSetupAndOneDay()
    {
        await using var factory = await StartAsync();
        var api = new Api(factory);
        factory.At(2028, 2, 29, 10);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00"), Setup("5.00")));
        factory.At(2028, 3, 1, 0, 10);
        await factory.CloseAsync();
        var february = await InvoiceAsync(world.Buyer.Client, world.Customer, 2028, 2);
        // Setup 5.00; February 2028 has 29 days, one of them active: 30 × 1 / 29 = 1.0344… → 1.03. Total 6.03.
        Assert.Equal(("created", "6.03"), (february["state"]!.GetValue<string>(), february["total"]!.GetValue<string>()));
        Assert.Equal([("Setup", "Basic", "1", "5.00"), ("Monthly fee", "Basic", "1", "1.03")], Lines(february));
        var march = await InvoiceAsync(world.Buyer.Client, world.Customer, 2028, 3);
        Assert.Equal([("Monthly fee", "Basic", "31", "30.00")], Lines(march)); // no setup again
    }

    /// <summary>The real timer on a fake clock: the close runs by itself once the month has turned.</summary>
    private sealed class TimerFactory : CmpFactory
    {
        public Microsoft.Extensions.Time.Testing.FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 4, 1, 8, 0, 0, TimeSpan.Zero));

        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Billing:JobIntervalMinutes"] = "10" };

        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            Microsoft.AspNetCore.TestHost.WebHostBuilderExtensions.ConfigureTestServices(builder,
                s => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<TimeProvider>(s, Clock));
        }
    }

    [Fact]
    public async Task Timer_ClosesTheMonthOnItsOwn_AfterTheMonthTurns()
    {
        await using var factory = new TimerFactory();
        await factory.InitializeAsync();
        var api = new Api(factory);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting", Plan("Basic", "EUR", Fixed("30.00")));
        var april = (await InvoicesAsync(world.Buyer.Client, world.Customer, "year=2026&month=4")).Single()!["uuid"]!.GetValue<string>();

        factory.Clock.Advance(TimeSpan.FromMinutes(30)); // the first run, still in April: nothing to close
        factory.Clock.SetUtcNow(new DateTimeOffset(2026, 5, 1, 0, 0, 30, TimeSpan.Zero));
        factory.Clock.Advance(TimeSpan.FromMinutes(10)); // the next tick, in May
        await GatewayCalls.EventuallyAsync(async () =>
            (await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/invoices/{april}/"), HttpStatusCode.OK))["state"]!.GetValue<string>() == "created");
        Assert.Equal(1, await factory.WithDbAsync(db => db.BillingClosures.CountAsync(c => c.Period == "2026-04")));
    }
}
