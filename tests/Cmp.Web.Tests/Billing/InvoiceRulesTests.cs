using Cmp.Web.Features.Billing;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The pricing table, hand-computed: every expected amount below is worked out in the comment beside it, not by the
/// code under test. Pure logic (no database, no clock), so these are unit tests; the HTTP tests run the same rules
/// through orders, the gateway and the month close.
/// </summary>
public sealed class InvoiceRulesTests
{
    private static readonly Guid Customer = Guid.NewGuid();
    private static readonly Guid Provider = Guid.NewGuid();

    private static DateTime Utc(int y, int m, int d, int h = 0, int min = 0, int s = 0, int ms = 0) => new(y, m, d, h, min, s, ms, DateTimeKind.Utc);

    private static PlanComponent Fixed(decimal price) => new() { BillingType = BillingType.Fixed, Name = "Monthly fee", Price = price };
    private static PlanComponent Setup(decimal price) => new() { BillingType = BillingType.OneTime, Name = "Setup", Price = price };
    private static PlanComponent PerCall(decimal price) => new() { BillingType = BillingType.Usage, Name = "Per call", MeasuredUnit = "invocation", Price = price };
    private static PlanComponent PerKTokens(decimal price) => new() { BillingType = BillingType.Usage, Name = "Per 1k tokens", MeasuredUnit = "1k_tokens", Price = price };
    private static PlanComponent Limit(decimal price, long amount) => new() { BillingType = BillingType.Limit, Name = "Tier", MeasuredUnit = "invocation", Price = price, LimitAmount = amount };

    private static BilledPlan Plan(string name, string currency, params PlanComponent[] components) => new(Guid.NewGuid(), name, currency, components);

    private static BilledResource Resource(DateTime activated, string name = "Support bot", Guid? customer = null) =>
        new(Guid.NewGuid(), customer ?? Customer, name, Provider, Guid.NewGuid(), "Helpdesk agent", activated);

    private static List<ComputedItem> Compute(BillingMonth month, BilledResource[] resources, BilledPlan[] plans, BilledPeriod[] periods, BilledUsage[]? usage = null) =>
        InvoiceRules.Compute(month, resources.ToDictionary(r => r.Id), plans.ToDictionary(p => p.Id), periods, usage ?? []);

    private static decimal InvoiceTotal(IEnumerable<ComputedItem> items) => Assert.Single(InvoiceRules.Invoices(items)).Total;

    [Fact]
    public void Fixed_WholeMonth_ChargesTheMonthlyPrice()
    {
        var plan = Plan("Basic", "EUR", Fixed(30m));
        var r = Resource(Utc(2026, 3, 20, 9));
        var items = Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 3, 20, 9), null)]);
        var item = Assert.Single(items);
        Assert.Equal((BillingType.Fixed, 30m, 30m, 30, 30m), (item.BillingType, item.Quantity, item.UnitPrice, item.DaysInMonth!.Value, item.Total));
        Assert.Equal((Utc(2026, 4, 1), Utc(2026, 5, 1)), (item.Start, item.End));
    }

    [Fact]
    public void Fixed_ActivatedMidMonth_ProRatedByDaysIncludingTheActivationDay()
    {
        var plan = Plan("Basic", "EUR", Fixed(30m));
        var r = Resource(Utc(2026, 4, 10, 17, 30));
        var item = Assert.Single(Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 10, 17, 30), null)]), i => i.BillingType == BillingType.Fixed);
        // April 10..30 = 21 days; 30 × 21 / 30 = 21.00
        Assert.Equal((21m, 21.00m), (item.Quantity, item.Total));
    }

    [Fact]
    public void PlanSwitchOnThe15thOfA30DayMonth_SplitsFixedAtTheSwitchDay()
    {
        var basic = Plan("Basic", "EUR", Fixed(30m));
        var pro = Plan("Pro", "EUR", Fixed(60m));
        var r = Resource(Utc(2026, 3, 1));
        var switchAt = Utc(2026, 4, 15, 12);
        var items = Compute(new(2026, 4), [r], [basic, pro], [new(r.Id, basic.Id, Utc(2026, 3, 1), switchAt), new(r.Id, pro.Id, switchAt, null)]);
        Assert.Equal(2, items.Count);
        // Basic: April 1..14 = 14 days; 30 × 14 / 30 = 14.00. Pro: April 15..30 = 16 days; 60 × 16 / 30 = 32.00.
        Assert.Equal(("Basic", 14m, 14.00m), (items[0].Plan.Name, items[0].Quantity, items[0].Total));
        Assert.Equal(("Pro", 16m, 32.00m), (items[1].Plan.Name, items[1].Quantity, items[1].Total));
        Assert.Equal((switchAt, switchAt), (items[0].End, items[1].Start));
        Assert.Equal(46.00m, InvoiceTotal(items));
    }

    [Fact]
    public void ActivationOnFeb29_ChargesSetupAndOneDayInFebruary_FullMarchWithoutSetup()
    {
        var plan = Plan("Basic", "EUR", Fixed(30m), Setup(5m));
        var activated = Utc(2028, 2, 29, 10);
        var r = Resource(activated);
        BilledPeriod[] periods = [new(r.Id, plan.Id, activated, null)];

        var february = Compute(new(2028, 2), [r], [plan], periods);
        // Setup 5.00 once; February 2028 has 29 days, one active: 30 × 1 / 29 = 1.03448… → 1.03
        Assert.Equal([(BillingType.OneTime, 5.00m), (BillingType.Fixed, 1.03m)], february.Select(i => (i.BillingType, i.Total)));
        Assert.Equal(29, february[1].DaysInMonth);
        Assert.Equal(6.03m, InvoiceTotal(february));

        var march = Compute(new(2028, 3), [r], [plan], periods);
        Assert.Equal([(BillingType.Fixed, 30.00m)], march.Select(i => (i.BillingType, i.Total)));
    }

    [Fact]
    public void TerminatedMidMonth_KeepsItsLastDay()
    {
        var plan = Plan("Pro", "EUR", Fixed(60m));
        var r = Resource(Utc(2026, 4, 2));
        var item = Assert.Single(Compute(new(2026, 5), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 2), Utc(2026, 5, 20, 10))]));
        // May 1..20 = 20 days of 31; 60 × 20 / 31 = 38.7096… → 38.71
        Assert.Equal((20m, 31, 38.71m), (item.Quantity, item.DaysInMonth!.Value, item.Total));
    }

    [Fact]
    public void TerminatedAtMidnight_DoesNotPayTheDayItNeverSaw()
    {
        var plan = Plan("Pro", "EUR", Fixed(31m));
        var r = Resource(Utc(2026, 5, 1));
        // Ended at the first instant of May 21: May 1..20 = 20 days; 31 × 20 / 31 = 20.00
        var item = Assert.Single(Compute(new(2026, 5), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 5, 1), Utc(2026, 5, 21))]), i => i.BillingType == BillingType.Fixed);
        Assert.Equal(20.00m, item.Total);
    }

    [Fact]
    public void OneTime_OnlyInTheActivationMonth_OnTheFirstPlan()
    {
        var first = Plan("Basic", "EUR", Setup(5m));
        var second = Plan("Pro", "EUR", Setup(50m));
        var r = Resource(Utc(2026, 4, 10));
        BilledPeriod[] periods = [new(r.Id, first.Id, Utc(2026, 4, 10), Utc(2026, 4, 20)), new(r.Id, second.Id, Utc(2026, 4, 20), null)];
        var april = Compute(new(2026, 4), [r], [first, second], periods);
        Assert.Equal([("Basic", 5.00m)], april.Select(i => (i.Plan.Name, i.Total)));
        Assert.Empty(Compute(new(2026, 5), [r], [first, second], periods));
    }

    [Fact]
    public void Usage_Invocations_TimesUnitPrice()
    {
        var plan = Plan("Pay as you go", "EUR", PerCall(0.01m));
        var r = Resource(Utc(2026, 4, 1));
        var item = Assert.Single(Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 1), null)], [new(r.Id, plan.Id, 1234, 99_999)]));
        // 1234 × 0.01 = 12.34
        Assert.Equal((1234m, 12.34m, "invocation"), (item.Quantity, item.Total, item.Unit));
    }

    [Fact]
    public void Usage_ThousandTokens_RoundedUp_ThenHalfEven()
    {
        var plan = Plan("Tokens", "EUR", PerKTokens(0.005m));
        var r = Resource(Utc(2026, 4, 1));
        var item = Assert.Single(Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 1), null)], [new(r.Id, plan.Id, 7, 2_001)]));
        // 2001 tokens → 3 thousands (rounded up); 3 × 0.005 = 0.015 → half-even to 0.02
        Assert.Equal((3m, 0.02m), (item.Quantity, item.Total));
        var exact = Assert.Single(Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 1), null)], [new(r.Id, plan.Id, 1, 5_000)]));
        // 5000 tokens → 5; 5 × 0.005 = 0.025 → half-even to 0.02 (not 0.03)
        Assert.Equal((5m, 0.02m), (exact.Quantity, exact.Total));
    }

    [Fact]
    public void Usage_NoCalls_NoLine()
    {
        var plan = Plan("Pay as you go", "EUR", PerCall(0.01m));
        var r = Resource(Utc(2026, 4, 1));
        Assert.Empty(Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 1), null)]));
    }

    [Fact]
    public void Limit_MonthlyPriceOncePerMonthActive_NotProRated()
    {
        var plan = Plan("Tier", "EUR", Limit(20m, 1000));
        var r = Resource(Utc(2026, 4, 29, 23));
        BilledPeriod[] periods = [new(r.Id, plan.Id, Utc(2026, 4, 29, 23), Utc(2026, 6, 2))];
        Assert.Equal([20.00m], Compute(new(2026, 4), [r], [plan], periods, [new(r.Id, plan.Id, 999, 0)]).Select(i => i.Total));
        Assert.Equal([20.00m], Compute(new(2026, 5), [r], [plan], periods).Select(i => i.Total));
        Assert.Equal([20.00m], Compute(new(2026, 6), [r], [plan], periods).Select(i => i.Total));
        Assert.Empty(Compute(new(2026, 7), [r], [plan], periods));
    }

    [Fact]
    public void AllTypesTogether_OneInvoice_TotalIsTheExactSumOfRoundedItems()
    {
        var plan = Plan("Everything", "EUR", Setup(9.99m), Fixed(10m), PerCall(0.003m), Limit(4.5m, 500));
        var r = Resource(Utc(2026, 4, 8, 6));
        var items = Compute(new(2026, 4), [r], [plan], [new(r.Id, plan.Id, Utc(2026, 4, 8, 6), null)], [new(r.Id, plan.Id, 321, 0)]);
        // Setup 9.99; FIXED April 8..30 = 23 days: 10 × 23 / 30 = 7.666… → 7.67; LIMIT 4.50; USAGE 321 × 0.003 = 0.963 → 0.96
        Assert.Equal([(BillingType.OneTime, 9.99m), (BillingType.Fixed, 7.67m), (BillingType.Limit, 4.50m), (BillingType.Usage, 0.96m)],
            items.Select(i => (i.BillingType, i.Total)));
        // 9.99 + 7.67 + 4.50 + 0.96 = 23.12 (the unrounded sum, 23.1236…, would round the same here, but the rule is the sum of rounded lines)
        Assert.Equal(23.12m, InvoiceTotal(items));
    }

    [Fact]
    public void HalfEven_ItemRounding_SumsOfRoundedItemsNotRoundedSum()
    {
        var plan = Plan("Odd", "EUR", PerCall(0.005m));
        var a = Resource(Utc(2026, 4, 1), "A");
        var b = Resource(Utc(2026, 4, 1), "B");
        var items = Compute(new(2026, 4), [a, b], [plan],
            [new(a.Id, plan.Id, Utc(2026, 4, 1), null), new(b.Id, plan.Id, Utc(2026, 4, 1), null)],
            [new(a.Id, plan.Id, 1, 0), new(b.Id, plan.Id, 3, 0)]);
        // A: 0.005 → 0.00 (half-even); B: 0.015 → 0.02. Total 0.02, though the unrounded 0.020 would also give 0.02
        Assert.Equal([0.00m, 0.02m], items.Select(i => i.Total));
        Assert.Equal(0.02m, InvoiceTotal(items));
    }

    [Fact]
    public void TwoCurrencies_TwoInvoices()
    {
        var eur = Plan("Euro", "EUR", Fixed(30m));
        var jpy = Plan("Yen", "JPY", Fixed(1000m));
        var r1 = Resource(Utc(2026, 4, 1), "Euro bot");
        var r2 = Resource(Utc(2026, 4, 16), "Yen bot");
        var items = Compute(new(2026, 4), [r1, r2], [eur, jpy], [new(r1.Id, eur.Id, Utc(2026, 4, 1), null), new(r2.Id, jpy.Id, Utc(2026, 4, 16), null)]);
        var invoices = InvoiceRules.Invoices(items).OrderBy(i => i.Currency).ToList();
        Assert.Equal(2, invoices.Count);
        // EUR 30.00; JPY: April 16..30 = 15 days; 1000 × 15 / 30 = 500 (no minor unit)
        Assert.Equal([("EUR", 30.00m), ("JPY", 500m)], invoices.Select(i => (i.Currency, i.Total)));
        Assert.All(invoices, i => Assert.Equal(Customer, i.CustomerId));
    }

    [Fact]
    public void UsageOnTheLastMillisecondVsTheFirstInstant_BelongsToTheMonthOfItsTimestamp()
    {
        Assert.Equal(new BillingMonth(2026, 4), BillingMonth.Of(Utc(2026, 4, 30, 23, 59, 59, 999)));
        Assert.Equal(new BillingMonth(2026, 5), BillingMonth.Of(Utc(2026, 5, 1)));
        Assert.Equal((Utc(2026, 4, 1), Utc(2026, 5, 1), 30), (new BillingMonth(2026, 4).Start, new BillingMonth(2026, 4).End, new BillingMonth(2026, 4).Days));
    }

    [Fact]
    public void SwitchAndBackOnOneDay_TheDayIsBilledOnce()
    {
        var a = Plan("A", "EUR", Fixed(30m));
        var b = Plan("B", "EUR", Fixed(300m));
        var r = Resource(Utc(2026, 4, 1));
        var items = Compute(new(2026, 4), [r], [a, b],
        [
            new(r.Id, a.Id, Utc(2026, 4, 1), Utc(2026, 4, 10, 9)),
            new(r.Id, b.Id, Utc(2026, 4, 10, 9), Utc(2026, 4, 10, 11)),
            new(r.Id, a.Id, Utc(2026, 4, 10, 11), null),
        ]);
        // A: April 1..9 (9 days) + April 10..30 (21 days) = 30 days → 9.00 + 21.00; B owns no whole day → no line
        Assert.Equal([("A", 9m, 9.00m), ("A", 21m, 21.00m)], items.Select(i => (i.Plan.Name, i.Quantity, i.Total)));
    }
}
