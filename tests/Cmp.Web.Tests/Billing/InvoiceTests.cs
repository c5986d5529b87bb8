using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static Cmp.Web.Tests.Billing.Billing;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// Pending invoices through the real pipeline: orders, plan switches, terminations and gateway calls on a set clock,
/// read back from <c>/api/invoices/</c>, with every amount hand-computed in the comment beside it. Each test has its own
/// buyer organization; none closes a month (that is <see cref="MonthCloseTests"/>).
/// </summary>
public sealed class InvoiceTests(BillingFactory factory) : IClassFixture<BillingFactory>
{
    private readonly Api _api = new(factory);

    private async Task<BuyerWorld> WorldAsync(object plan)
    {
        return await BuyerWorld.CreateAsync(_api, "Basic Prompting", plan);
    }

    [Fact]
    public async Task PendingInvoice_SetupUsageAndASwitchOnThe15th_HandComputed()
    {
        factory.At(2026, 4, 1, 8);
        var world = await WorldAsync(Plan("Basic", "EUR", Fixed("30.00"), Setup("5.00"), PerCall("0.01")));
        var pro = await AddPlanAsync(world, Plan("Pro", "EUR", Fixed("60.00"), PerKTokens("0.50")));
        var key = await world.KeyAsync();
        var gateway = factory.CreateClient();

        factory.At(2026, 4, 3, 10);
        for (var i = 0; i < 3; i++)
        {
            await CallAsync(gateway, key);
        }
        factory.At(2026, 4, 15, 12);
        await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = pro }), HttpStatusCode.OK);
        factory.At(2026, 4, 20, 9);
        var tokens = await TokensOfAsync(gateway, key) + await TokensOfAsync(gateway, key);
        Assert.InRange(tokens, 1, 999); // the dev model's short answers: one thousand, rounded up

        factory.At(2026, 4, 25, 18);
        var invoice = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4);
        Assert.Equal(("pending", "EUR", world.Customer), (invoice["state"]!.GetValue<string>(), invoice["currency"]!.GetValue<string>(), invoice["customer_uuid"]!.GetValue<string>()));
        // Basic from April 1: setup 5.00; FIXED April 1..14 = 14 days, 30 × 14 / 30 = 14.00; 3 calls × 0.01 = 0.03.
        // Pro from April 15: FIXED April 15..30 = 16 days, 60 × 16 / 30 = 32.00; 1 thousand tokens × 0.50 = 0.50.
        Assert.Equal(
        [
            ("Setup", "Basic", "1", "5.00"), ("Monthly fee", "Basic", "14", "14.00"), ("Per call", "Basic", "3", "0.03"),
            ("Monthly fee", "Pro", "16", "32.00"), ("Per 1k tokens", "Pro", "1", "0.50"),
        ], Lines(invoice));
        Assert.Equal("51.53", invoice["total"]!.GetValue<string>()); // 5.00 + 14.00 + 0.03 + 32.00 + 0.50
        var fixedLine = invoice["items"]![1]!;
        Assert.Equal(("FIXED", "day", "30.00", 30), (fixedLine["billing_type"]!.GetValue<string>(), fixedLine["unit"]!.GetValue<string>(),
            fixedLine["unit_price"]!.GetValue<string>(), fixedLine["days_in_month"]!.GetValue<int>()));

        var detail = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/invoices/{invoice["uuid"]}/"), HttpStatusCode.OK);
        Assert.Equal(invoice.ToJsonString(), detail.ToJsonString());

        var usages = await Json.ReadArrayAsync(await world.Buyer.Client.GetAsync($"/api/marketplace-component-usages/?resource_uuid={world.Resource}&billing_period=2026-04"));
        Assert.Equal([("Basic", "Per call", 3L), ("Pro", "Per 1k tokens", 1L)],
            usages.Select(u => (u!["plan_name"]!.GetValue<string>(), u["component_name"]!.GetValue<string>(), u["usage"]!.GetValue<long>())));
    }

    [Fact]
    public async Task Csv_OneRecordPerLine_WithTheSameAmounts()
    {
        factory.At(2026, 4, 1, 8);
        var world = await WorldAsync(Plan("Basic", "EUR", Fixed("30.00")));
        factory.At(2026, 4, 11, 8);
        var invoice = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4);
        var response = await world.Buyer.Client.GetAsync($"/api/invoices/{invoice["uuid"]}/csv/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.True(response.Headers.CacheControl?.NoStore);
        Assert.StartsWith("invoice-2026-04-EUR-buyer-", response.Content.Headers.ContentDisposition!.FileNameStar ?? response.Content.Headers.ContentDisposition.FileName!.Trim('"'));
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("invoice_uuid,customer,year,month,currency,state,", lines[0]);
        Assert.Contains(",Basic,Monthly fee,FIXED,day,30,30.00,30,30.00,", lines[1]); // April 1..30, whole month
    }

    [Fact]
    public async Task Csv_ANameThatLooksLikeAFormula_IsEscapedForSpreadsheets()
    {
        factory.At(2026, 4, 1, 8);
        var world = await WorldAsync(Plan("Basic", "EUR", Fixed("30.00")));
        await factory.WithDbAsync(async db =>
        {
            var id = Guid.ParseExact(world.Resource, "N");
            var resource = await db.Resources.FindAsync(id);
            resource!.Name = "=HYPERLINK(\"http://evil.example\")";
            await db.SaveChangesAsync();
        });
        var invoice = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4);
        var csv = await world.Buyer.Client.GetStringAsync($"/api/invoices/{invoice["uuid"]}/csv/");
        Assert.Contains("'=HYPERLINK", csv);
    }

    [Fact]
    public async Task UsageAtTheLastMillisecond_AndAtMidnight_FallInTheirOwnMonths()
    {
        factory.At(2026, 4, 30, 12);
        var world = await WorldAsync(Plan("Pay as you go", "EUR", PerCall("0.25")));
        var key = await world.KeyAsync();
        var gateway = factory.CreateClient();
        factory.At(2026, 4, 30, 23, 59, 59, 999);
        await CallAsync(gateway, key);
        factory.At(2026, 5, 1);
        await CallAsync(gateway, key);
        await CallAsync(gateway, key);

        var april = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 4);
        Assert.Equal([("Per call", "Pay as you go", "1", "0.25")], Lines(april)); // 1 × 0.25
        var may = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 5);
        Assert.Equal([("Per call", "Pay as you go", "2", "0.50")], Lines(may)); // 2 × 0.25
        var usages = await Json.ReadArrayAsync(await world.Buyer.Client.GetAsync($"/api/marketplace-component-usages/?resource_uuid={world.Resource}&billing_period=2026-04"));
        Assert.Equal(1, Assert.Single(usages)!["usage"]!.GetValue<long>());
    }

    [Fact]
    public async Task TerminatedMidMonth_PaysThroughItsLastDay()
    {
        factory.At(2026, 5, 2, 9);
        var world = await WorldAsync(Plan("Pro", "EUR", Fixed("60.00")));
        factory.At(2026, 5, 20, 10);
        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        factory.At(2026, 5, 28);
        var may = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 5);
        // May 2..20 = 19 days of 31: 60 × 19 / 31 = 36.7741… → 36.77
        Assert.Equal([("Monthly fee", "Pro", "19", "36.77")], Lines(may));
        factory.At(2026, 6, 10);
        Assert.Empty(await InvoicesAsync(world.Buyer.Client, world.Customer, "year=2026&month=6"));
    }

    [Fact]
    public async Task TwoCurrencies_TwoInvoices()
    {
        factory.At(2026, 6, 1, 8);
        var euro = await WorldAsync(Plan("Euro", "EUR", Fixed("30.00")));
        var (_, _, yenOffering, yenPlan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting", Plan("Yen", "JPY", Fixed("1000")));
        factory.At(2026, 6, 16, 8);
        await Json.ReadAsync(await euro.Buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering = yenOffering, plan = yenPlan, project = euro.Project }), HttpStatusCode.Created);

        var invoices = (await InvoicesAsync(euro.Buyer.Client, euro.Customer, "year=2026&month=6")).Select(i => i!.AsObject()).OrderBy(i => i["currency"]!.GetValue<string>()).ToList();
        // EUR: June 1..30, 30.00. JPY: June 16..30 = 15 days of 30, 1000 × 15 / 30 = 500 (no minor unit).
        Assert.Equal([("EUR", "30.00"), ("JPY", "500")], invoices.Select(i => (i["currency"]!.GetValue<string>(), i["total"]!.GetValue<string>())));
        Assert.NotEqual(invoices[0]["uuid"]!.GetValue<string>(), invoices[1]["uuid"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tenancy_AnotherBuyerAndTheSeller_DoNotSeeTheInvoice()
    {
        factory.At(2026, 7, 1, 8);
        var world = await WorldAsync(Plan("Basic", "EUR", Fixed("30.00")));
        var invoice = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 7);
        var uuid = invoice["uuid"]!.GetValue<string>();
        var (stranger, strangerCustomer, _) = await BuyerWorld.NewBuyerAsync(_api);

        foreach (var outsider in new[] { stranger.Client, world.Seller.Owner.Client })
        {
            await Json.ProblemAsync(await outsider.GetAsync($"/api/invoices/{uuid}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
            await Json.ProblemAsync(await outsider.GetAsync($"/api/invoices/{uuid}/csv/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
            Assert.Empty(await InvoicesAsync(outsider, world.Customer));
            Assert.DoesNotContain(uuid, (await Json.ReadArrayAsync(await outsider.GetAsync("/api/invoices/?page_size=300"))).Select(i => i!["uuid"]!.GetValue<string>()));
        }
        Assert.Empty(await InvoicesAsync(stranger.Client, strangerCustomer));
        var staff = await _api.StaffAsync();
        Assert.Equal(uuid, (await Json.ReadAsync(await staff.GetAsync($"/api/invoices/{uuid}/"), HttpStatusCode.OK))["uuid"]!.GetValue<string>());
        await Json.ProblemAsync(await _api.Anonymous().GetAsync($"/api/invoices/{uuid}/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
    }

    [Theory]
    [InlineData("year=20x6", "year")]
    [InlineData("month=13", "month")]
    [InlineData("state=open", "state")]
    [InlineData("customer_uuid=nope", "customer_uuid")]
    [InlineData("o=amount", "o")]
    public async Task List_BadFilter_IsAProblemNamingTheField(string query, string field)
    {
        var user = await _api.NewUserAsync();
        var problem = await Json.ProblemAsync(await user.Client.GetAsync($"/api/invoices/?{query}"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    [Fact]
    public async Task Revenue_IsTheSumOfTheSellersLines_FeeExact_AndPrivate()
    {
        factory.At(2026, 8, 1, 8);
        var world = await WorldAsync(Plan("Basic", "EUR", Fixed("30.00"), Setup("21.53")));
        factory.At(2026, 8, 20);
        var invoice = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 8);
        Assert.Equal("51.53", invoice["total"]!.GetValue<string>()); // 30.00 + 21.53

        var revenue = await Json.ReadAsync(await world.Seller.Owner.Client.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/?year=2026&month=8"), HttpStatusCode.OK);
        // gross 51.53; 12.5 % = 6.44125 → 6.44 (half-even); net 51.53 − 6.44 = 45.09
        Assert.Equal(("EUR", "51.53", "12.5", "6.44", "45.09"), (revenue["currency"]!.GetValue<string>(), revenue["gross"]!.GetValue<string>(),
            revenue["platform_fee_percent"]!.GetValue<string>(), revenue["platform_fee"]!.GetValue<string>(), revenue["net"]!.GetValue<string>()));
        var offering = Assert.Single(revenue["offerings"]!.AsArray())!;
        Assert.Equal((world.Offering, "51.53"), (offering["offering_uuid"]!.GetValue<string>(), offering["gross"]!.GetValue<string>()));

        await Json.ProblemAsync(await world.Buyer.Client.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        var other = await _api.NewSellerAsync("Rival " + Guid.NewGuid().ToString("N")[..6]);
        await Json.ProblemAsync(await other.Owner.Client.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await world.Seller.Owner.Client.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/?year=2026"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        var staff = await _api.StaffAsync();
        Assert.Equal("51.53", (await Json.ReadAsync(await staff.GetAsync($"/api/marketplace-service-providers/{world.Seller.Provider}/revenue/?year=2026&month=8"), HttpStatusCode.OK))["gross"]!.GetValue<string>());
    }

    [Fact]
    public async Task AllSellersGross_EqualsAllInvoicesTotal_ToTheCent()
    {
        factory.At(2026, 9, 3, 7);
        var a = await WorldAsync(Plan("A", "EUR", Fixed("10.00"), PerCall("0.003")));
        var b = await WorldAsync(Plan("B", "EUR", Fixed("7.77"), Setup("0.01")));
        // Buyer of A also buys B's agent: one invoice with two sellers' lines.
        await Json.ReadAsync(await a.Buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering = b.Offering, plan = b.Plan, project = a.Project }), HttpStatusCode.Created);
        var gateway = factory.CreateClient();
        var key = await a.KeyAsync();
        for (var i = 0; i < 7; i++)
        {
            await CallAsync(gateway, key);
        }
        factory.At(2026, 9, 17, 7);
        var staff = await _api.StaffAsync();
        decimal invoices = 0;
        foreach (var customer in new[] { a.Customer, b.Customer })
        {
            foreach (var invoice in await InvoicesAsync(a.Customer == customer ? a.Buyer.Client : b.Buyer.Client, customer, "year=2026&month=9"))
            {
                invoices += decimal.Parse(invoice!["total"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        decimal gross = 0;
        foreach (var provider in new[] { a.Seller.Provider, b.Seller.Provider })
        {
            gross += decimal.Parse((await Json.ReadAsync(await staff.GetAsync($"/api/marketplace-service-providers/{provider}/revenue/?year=2026&month=9"), HttpStatusCode.OK))["gross"]!.GetValue<string>(),
                System.Globalization.CultureInfo.InvariantCulture);
        }
        // A: FIXED September 3..30 = 28 of 30 days, 10 × 28 / 30 = 9.333… → 9.33; 7 calls × 0.003 = 0.021 → 0.02.
        // B (bought twice): FIXED 7.77 × 28 / 30 = 7.252 → 7.25, setup 0.01; twice = 14.52. Total 9.33 + 0.02 + 14.52 = 23.87.
        Assert.Equal(23.87m, invoices);
        Assert.Equal(invoices, gross);
    }

    [Fact]
    public async Task UsageTotals_AfterParallelCalls_EqualTheRecordsCount()
    {
        factory.At(2026, 10, 5, 8);
        var world = await WorldAsync(Plan("Pay as you go", "EUR", PerCall("0.01"), PerKTokens("0.10")));
        var key = await world.KeyAsync();
        var gateway = factory.CreateClient();
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => CallAsync(gateway, key, "Question " + i)));
        var resourceId = Guid.ParseExact(world.Resource, "N");
        var records = await factory.WithDbAsync(db => db.UsageRecords.Where(u => u.ResourceId == resourceId)
            .GroupBy(u => u.PlanId).Select(g => new { Invocations = g.LongCount(), Tokens = g.Sum(u => u.InputTokens + u.OutputTokens) }).SingleAsync());
        var total = await factory.WithDbAsync(db => db.UsageTotals.SingleAsync(t => t.ResourceId == resourceId));
        Assert.Equal((40L, records.Tokens, "2026-10"), (total.Invocations, total.Tokens, total.Period));
        Assert.Equal(40L, records.Invocations);
        var invoice = await InvoiceAsync(world.Buyer.Client, world.Customer, 2026, 10);
        // 40 × 0.01 = 0.40; tokens: ceil(total / 1000) × 0.10
        var thousands = (records.Tokens + 999) / 1000;
        var tokensLine = ("Per 1k tokens", "Pay as you go", thousands.ToString(System.Globalization.CultureInfo.InvariantCulture), (thousands * 0.10m).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal([tokensLine, ("Per call", "Pay as you go", "40", "0.40")], Lines(invoice)); // USAGE lines in component-name order
    }
}
