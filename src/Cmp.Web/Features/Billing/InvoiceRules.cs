using System.Globalization;

namespace Cmp.Web.Features.Billing;

/// <summary>A UTC calendar month, the unit invoices are made of.</summary>
public readonly record struct BillingMonth(int Year, int Month) : IComparable<BillingMonth>
{
    public DateTime Start => new(Year, Month, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The first instant of the next month (exclusive end).</summary>
    public DateTime End => Start.AddMonths(1);

    public int Days => DateTime.DaysInMonth(Year, Month);

    public BillingMonth Next => Of(End);

    public BillingMonth Previous => Of(Start.AddMonths(-1));

    /// <summary><c>yyyy-MM</c>, as <c>billing_period</c> and the cap counters spell it.</summary>
    public string Period => Start.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    public static BillingMonth Of(DateTime utc) => new(utc.Year, utc.Month);

    public static bool TryParse(string? value, out BillingMonth month)
    {
        month = default;
        if (DateTime.TryParseExact(value, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            month = new BillingMonth(parsed.Year, parsed.Month);
            return true;
        }
        return false;
    }

    /// <summary>A month from query values; false when either is missing or out of range.</summary>
    public static bool TryCreate(int year, int month, out BillingMonth value)
    {
        value = default;
        if (year is < 2000 or > 9998 || month is < 1 or > 12)
        {
            return false;
        }
        value = new BillingMonth(year, month);
        return true;
    }

    public int CompareTo(BillingMonth other) => (Year * 12 + Month).CompareTo(other.Year * 12 + other.Month);

    public static bool operator <(BillingMonth a, BillingMonth b) => a.CompareTo(b) < 0;
    public static bool operator >(BillingMonth a, BillingMonth b) => a.CompareTo(b) > 0;
    public static bool operator <=(BillingMonth a, BillingMonth b) => a.CompareTo(b) <= 0;
    public static bool operator >=(BillingMonth a, BillingMonth b) => a.CompareTo(b) >= 0;

    public override string ToString() => Period;
}

/// <summary>What invoicing needs to know about a resource (names as they are now; frozen items keep their own copy).</summary>
public sealed record BilledResource(Guid Id, Guid CustomerId, string Name, Guid ProviderId, Guid OfferingId, string OfferingName, DateTime? ActivatedAt);

/// <summary>A plan and its price components.</summary>
public sealed record BilledPlan(Guid Id, string Name, string Currency, IReadOnlyList<PlanComponent> Components);

/// <summary>A stretch a resource spent on a plan: [StartsAt, EndsAt), open while EndsAt is null.</summary>
public sealed record BilledPeriod(Guid ResourceId, Guid PlanId, DateTime StartsAt, DateTime? EndsAt);

/// <summary>The month's metered runs of one resource on one plan, as the database summed them.</summary>
public sealed record BilledUsage(Guid ResourceId, Guid? PlanId, long Invocations, long Tokens);

/// <summary>One computed invoice line; <see cref="Total"/> is already rounded half-even to the currency's minor unit.</summary>
public sealed record ComputedItem(
    BilledResource Resource, BilledPlan Plan, PlanComponent? Component, BillingType BillingType, string Unit,
    decimal Quantity, decimal UnitPrice, int? DaysInMonth, decimal Total, DateTime Start, DateTime End)
{
    public string Currency => Plan.Currency;
}

/// <summary>
/// The pricing table of PRODUCT.md, as a pure function of one month's plan periods and usage (no database, no clock):
/// <list type="bullet">
/// <item>FIXED: price × days active ÷ days in the month. A day belongs to one period: the day of a plan switch to the
/// new plan, the day of a termination to the plan that ended (a resource used on its last day pays that day), the
/// day of activation to the first plan.</item>
/// <item>ONE_TIME: once, in the month the resource became active, on the plan it started on.</item>
/// <item>USAGE: units × unit price: invocations, or the month's tokens (input + output) in thousands, rounded up.</item>
/// <item>LIMIT: the monthly price, once for each plan with at least one billed day in the month (usage within the
/// cap is included; past it the gateway refused).</item>
/// </list>
/// Each item's total is rounded half-even to the currency's minor unit; an invoice's total is the exact sum of them.
/// </summary>
public static class InvoiceRules
{
    public const string DayUnit = "day";
    public const string MonthUnit = "month";
    public const string OnceUnit = "once";

    public static List<ComputedItem> Compute(
        BillingMonth month,
        IReadOnlyDictionary<Guid, BilledResource> resources,
        IReadOnlyDictionary<Guid, BilledPlan> plans,
        IEnumerable<BilledPeriod> periods,
        IEnumerable<BilledUsage> usage)
    {
        var items = new List<ComputedItem>();
        var byResource = periods.GroupBy(p => p.ResourceId).ToDictionary(g => g.Key, g => g.OrderBy(p => p.StartsAt).ToList());
        var usageByResource = usage.GroupBy(u => u.ResourceId).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var resourceId in byResource.Keys.Union(usageByResource.Keys))
        {
            if (!resources.TryGetValue(resourceId, out var resource))
            {
                continue;
            }
            var resourcePeriods = byResource.GetValueOrDefault(resourceId) ?? [];
            var lines = new List<ComputedItem>();
            // Days and spans per plan: a plan can come back after a switch away and back.
            var spans = new List<(BilledPlan Plan, DateTime Start, DateTime End, int Days)>();
            for (var i = 0; i < resourcePeriods.Count; i++)
            {
                var period = resourcePeriods[i];
                if (!plans.TryGetValue(period.PlanId, out var plan))
                {
                    continue;
                }
                var switchedAway = period.EndsAt is { } endsAt && resourcePeriods.Skip(i + 1).Any(p => p.StartsAt == endsAt);
                var days = BilledDays(month, period, switchedAway);
                var start = Max(period.StartsAt, month.Start);
                var end = Min(period.EndsAt ?? month.End, month.End);
                // The first period of a resource activated this month starts at its activation: the setup fee's plan.
                if (i == 0 && resource.ActivatedAt is { } activated && BillingMonth.Of(activated) == month)
                {
                    foreach (var c in plan.Components.Where(c => c.BillingType == BillingType.OneTime))
                    {
                        lines.Add(Item(resource, plan, c, BillingType.OneTime, OnceUnit, 1, c.Price, null, c.Price, start, Max(start, end)));
                    }
                }
                if (end <= start && days == 0)
                {
                    continue;
                }
                spans.Add((plan, start, end, days));
                if (days > 0)
                {
                    foreach (var c in plan.Components.Where(c => c.BillingType == BillingType.Fixed))
                    {
                        lines.Add(Item(resource, plan, c, BillingType.Fixed, DayUnit, days, c.Price, month.Days, c.Price * days / month.Days, start, end));
                    }
                }
            }
            foreach (var group in spans.Where(s => s.Days > 0).GroupBy(s => s.Plan.Id))
            {
                var plan = group.First().Plan;
                foreach (var c in plan.Components.Where(c => c.BillingType == BillingType.Limit))
                {
                    lines.Add(Item(resource, plan, c, BillingType.Limit, MonthUnit, 1, c.Price, null, c.Price, group.Min(s => s.Start), group.Max(s => s.End)));
                }
            }
            foreach (var used in usageByResource.GetValueOrDefault(resourceId) ?? [])
            {
                // A record without a plan (none was known) counts on the plan the resource was on last in the month.
                var planId = used.PlanId ?? resourcePeriods.LastOrDefault()?.PlanId;
                if (planId is not { } id || !plans.TryGetValue(id, out var plan))
                {
                    continue;
                }
                var onPlan = spans.Where(s => s.Plan.Id == id).ToList();
                var start = onPlan.Count > 0 ? onPlan.Min(s => s.Start) : month.Start;
                var end = onPlan.Count > 0 ? onPlan.Max(s => s.End) : month.End;
                foreach (var c in plan.Components.Where(c => c.BillingType == BillingType.Usage))
                {
                    var unit = MeteredUnits.Parse(c.MeasuredUnit) ?? MeteredUnit.Invocation;
                    var quantity = unit == MeteredUnit.ThousandTokens ? (used.Tokens + 999) / 1000 : used.Invocations;
                    if (quantity > 0)
                    {
                        lines.Add(Item(resource, plan, c, BillingType.Usage, c.MeasuredUnit.Length > 0 ? c.MeasuredUnit : MeteredUnits.Invocation,
                            quantity, c.Price, null, c.Price * quantity, start, end));
                    }
                }
            }
            items.AddRange(lines.OrderBy(l => l.Start).ThenBy(l => Order(l.BillingType)).ThenBy(l => l.Component?.Name, StringComparer.Ordinal));
        }
        return items;
    }

    /// <summary>
    /// The days of <paramref name="month"/> billed to a period: from its first day to its last, where a period that
    /// was switched away from leaves its last day to the next plan, and one that ended otherwise (terminate) keeps it.
    /// </summary>
    public static int BilledDays(BillingMonth month, BilledPeriod period, bool switchedAway)
    {
        var firstDay = period.StartsAt.Date;
        DateTime endDay; // exclusive
        if (period.EndsAt is not { } ends)
        {
            endDay = month.End;
        }
        else if (switchedAway)
        {
            endDay = ends.Date;
        }
        else
        {
            // The last day touched: an end at exactly midnight touched nothing of that day.
            endDay = ends.AddTicks(-1).Date.AddDays(1);
        }
        var from = Max(firstDay, month.Start);
        var to = Min(endDay, month.End);
        return to > from ? (int)(to - from).TotalDays : 0;
    }

    /// <summary>Items grouped into invoices: one per customer and currency, with the exact sum of their totals.</summary>
    public static IEnumerable<(Guid CustomerId, string Currency, List<ComputedItem> Items, decimal Total)> Invoices(IEnumerable<ComputedItem> items) =>
        items.GroupBy(i => (i.Resource.CustomerId, i.Currency))
            .Select(g => (g.Key.CustomerId, g.Key.Currency, g.OrderBy(i => i.Resource.Name, StringComparer.Ordinal).ThenBy(i => i.Resource.Id).ToList(), g.Sum(i => i.Total)));

    private static ComputedItem Item(BilledResource resource, BilledPlan plan, PlanComponent? component, BillingType type, string unit,
        decimal quantity, decimal unitPrice, int? daysInMonth, decimal exact, DateTime start, DateTime end) =>
        new(resource, plan, component, type, unit, quantity, unitPrice, daysInMonth, new Money(exact, plan.Currency).Round().Amount, start, end);

    private static int Order(BillingType type) => type switch
    {
        BillingType.OneTime => 0,
        BillingType.Fixed => 1,
        BillingType.Limit => 2,
        BillingType.Usage => 3,
        _ => 4,
    };

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;
}
