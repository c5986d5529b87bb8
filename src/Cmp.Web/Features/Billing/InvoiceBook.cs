using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>Where a computation reads usage: the monthly totals (every read), or the records themselves (the month close).</summary>
public enum UsageSource
{
    Totals,
    Records,
}

/// <summary>Whose resources a computation covers: some customers, one provider's offerings, or everyone.</summary>
public sealed record BillingScope(IReadOnlyCollection<Guid>? CustomerIds = null, Guid? ProviderId = null)
{
    public static readonly BillingScope All = new();

    public static BillingScope Customer(Guid id) => new([id]);

    public static BillingScope Provider(Guid id) => new(ProviderId: id);
}

/// <summary>
/// Invoices from the database: <see cref="InvoiceRules"/> fed with one month's plan periods and usage, summed by the
/// database (a GROUP BY over the month's usage records; the records themselves never enter the process, so memory
/// does not grow with traffic). Pending invoices are computed on read; frozen ones are read from their stored items.
/// </summary>
public static class InvoiceBook
{
    /// <summary>
    /// The month's items for the scope's resources, as the rules compute them now. Usage comes from the monthly totals
    /// (<see cref="UsageTotal"/>, one row per resource and plan, so a read costs the same at any traffic), or, for the
    /// month close, from the records themselves: one GROUP BY in the database, streamed rows never enter the process.
    /// </summary>
    public static async Task<List<ComputedItem>> ComputeAsync(CmpDbContext db, BillingScope scope, BillingMonth month, CancellationToken ct, UsageSource source = UsageSource.Totals)
    {
        var scoped = Scoped(db, scope);
        var usage = source == UsageSource.Records ? await RecountAsync(db, scoped, month, ct) : await TotalsAsync(db, scoped, month, ct);
        return await ComputeAsync(db, scope, month, usage, ct);
    }

    /// <summary>The month's items for the scope's resources from usage already summed (<see cref="RecountAsync"/> or <see cref="TotalsAsync"/>).</summary>
    public static async Task<List<ComputedItem>> ComputeAsync(CmpDbContext db, BillingScope scope, BillingMonth month, IReadOnlyList<BilledUsage> usage, CancellationToken ct)
    {
        var (start, end) = (month.Start, month.End);
        var scoped = Scoped(db, scope);
        var periodQuery = db.PlanPeriods.AsNoTracking().Where(p => p.StartsAt < end && (p.EndsAt == null || p.EndsAt > start));
        if (scoped is not null)
        {
            periodQuery = periodQuery.Where(p => scoped.Contains(p.ResourceId));
        }
        // The periods with their resources' names in one query; a resource with usage but no period this month (a
        // record that came in after its termination) is looked up on its own.
        var rows = await periodQuery.Join(db.Resources, p => p.ResourceId, r => r.Id, (p, r) => new
        {
            Period = new BilledPeriod(p.ResourceId, p.PlanId, p.StartsAt, p.EndsAt),
            Resource = new BilledResource(r.Id, r.CustomerId, r.Name, r.Agent.ServiceProviderId, r.Agent.OfferingId, r.Agent.Name, r.ActivatedAt),
        }).ToListAsync(ct);
        var periods = rows.ConvertAll(r => r.Period);
        if (periods.Count == 0 && usage.Count == 0)
        {
            return [];
        }
        var resources = rows.Select(r => r.Resource).DistinctBy(r => r.Id).ToDictionary(r => r.Id);
        var missing = usage.Select(u => u.ResourceId).Where(id => !resources.ContainsKey(id)).Distinct().ToList();
        if (missing.Count > 0)
        {
            foreach (var r in await db.Resources.AsNoTracking().Where(r => missing.Contains(r.Id))
                .Select(r => new BilledResource(r.Id, r.CustomerId, r.Name, r.Agent.ServiceProviderId, r.Agent.OfferingId, r.Agent.Name, r.ActivatedAt)).ToListAsync(ct))
            {
                resources[r.Id] = r;
            }
        }
        var planIds = periods.Select(p => p.PlanId).Concat(usage.Where(u => u.PlanId is not null).Select(u => u.PlanId!.Value)).Distinct().ToList();
        var plans = (await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => planIds.Contains(p.Id)).ToListAsync(ct))
            .ToDictionary(p => p.Id, p => new BilledPlan(p.Id, p.Name, p.Currency, p.Components.OrderBy(c => c.Name, StringComparer.Ordinal).ToList()));
        return InvoiceRules.Compute(month, resources, plans, periods, usage);
    }

    /// <summary>The months still open (not closed by the job), oldest first, up to the one <paramref name="now"/> is in.</summary>
    public static async Task<List<BillingMonth>> OpenMonthsAsync(CmpDbContext db, DateTime now, CancellationToken ct)
    {
        var current = BillingMonth.Of(now);
        var lastClosed = await db.BillingClosures.AsNoTracking().OrderByDescending(c => c.Period).Select(c => c.Period).FirstOrDefaultAsync(ct);
        BillingMonth first;
        if (BillingMonth.TryParse(lastClosed, out var closed))
        {
            first = closed.Next;
        }
        else
        {
            var earliest = await db.PlanPeriods.AsNoTracking().OrderBy(p => p.StartsAt).Select(p => (DateTime?)p.StartsAt).FirstOrDefaultAsync(ct);
            first = earliest is { } e ? BillingMonth.Of(e) : current;
        }
        var months = new List<BillingMonth>();
        for (var m = first < current ? first : current; m <= current; m = m.Next)
        {
            months.Add(m);
        }
        return months;
    }

    /// <summary>
    /// Brings a customer's open months up to date: a pending invoice exists for every currency the month has items in
    /// (created at the first computation, so its uuid never changes), and each pending invoice's stored total is the
    /// computed one. Frozen invoices are never touched. Returns the computed items by month.
    /// </summary>
    public static async Task<Dictionary<BillingMonth, List<ComputedItem>>> RefreshCustomerAsync(CmpDbContext db, Guid customerId, DateTime now, CancellationToken ct)
    {
        var result = new Dictionary<BillingMonth, List<ComputedItem>>();
        foreach (var month in await OpenMonthsAsync(db, now, ct))
        {
            var items = await ComputeAsync(db, BillingScope.Customer(customerId), month, ct);
            result[month] = items;
            await SavePendingAsync(db, month, items, now, ct);
        }
        return result;
    }

    /// <summary>
    /// Writes pending invoices' rows and totals for the computed items: the missing rows in one insert (a row another
    /// writer inserted meanwhile is left alone), the changed totals in one save. A total that lost a race to the month
    /// close (the invoice was frozen meanwhile) is not written: a frozen invoice keeps its own.
    /// </summary>
    public static async Task SavePendingAsync(CmpDbContext db, BillingMonth month, IEnumerable<ComputedItem> items, DateTime now, CancellationToken ct)
    {
        foreach (var chunk in InvoiceRules.Invoices(items).Chunk(EnsureChunk))
        {
            await EnsureAsync(db, month, chunk.Select(i => (i.CustomerId, i.Currency)).ToList(), now, ct);
            var customerIds = chunk.Select(i => i.CustomerId).Distinct().ToList();
            var rows = (await db.Invoices.Where(i => i.Year == month.Year && i.Month == month.Month && customerIds.Contains(i.CustomerId) && i.State == InvoiceState.Pending)
                .ToListAsync(ct)).ToDictionary(i => (i.CustomerId, i.Currency));
            foreach (var (customerId, currency, _, total) in chunk)
            {
                if (rows.TryGetValue((customerId, currency), out var row) && row.Total != total)
                {
                    row.Total = total;
                }
            }
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Frozen (or refreshed) by another writer between the read and the save: theirs stands.
            }
            finally
            {
                db.ChangeTracker.Clear();
            }
        }
    }

    /// <summary>Rows per insert of invoice headers: 9 parameters each, far below both databases' limits.</summary>
    public const int EnsureChunk = 200;

    /// <summary>The invoice rows of these customers and currencies for the month, inserted as pending where missing (one statement).</summary>
    public static Task EnsureAsync(CmpDbContext db, BillingMonth month, IReadOnlyList<(Guid CustomerId, string Currency)> keys, DateTime now, CancellationToken ct)
    {
        if (keys.Count == 0)
        {
            return Task.CompletedTask;
        }
        var values = new List<string>(keys.Count);
        var parameters = new List<object>(keys.Count * 9);
        foreach (var (customerId, currency) in keys)
        {
            var n = parameters.Count;
            values.Add($"({{{n}}}, {{{n + 1}}}, {{{n + 2}}}, {{{n + 3}}}, {{{n + 4}}}, {{{n + 5}}}, {{{n + 6}}}, {{{n + 7}}}, {{{n + 8}}})");
            parameters.AddRange([Guid.CreateVersion7(), now, customerId, month.Year, month.Month, currency, nameof(InvoiceState.Pending), 0m, Guid.NewGuid()]);
        }
        var sql = "INSERT INTO invoices (id, created_at, customer_id, year, month, currency, state, total, version) VALUES "
            + string.Join(", ", values) + " ON CONFLICT (customer_id, year, month, currency) DO NOTHING";
        return db.Database.ExecuteSqlRawAsync(sql, parameters, ct);
    }

    /// <summary>An invoice's lines: computed now while it is pending, the stored copy once frozen.</summary>
    public static async Task<List<InvoiceLine>> LinesAsync(CmpDbContext db, Invoice invoice, CancellationToken ct)
    {
        if (invoice.State == InvoiceState.Pending)
        {
            var month = new BillingMonth(invoice.Year, invoice.Month);
            var items = await ComputeAsync(db, BillingScope.Customer(invoice.CustomerId), month, ct);
            return InvoiceRules.Invoices(items).Where(i => i.Currency == invoice.Currency).SelectMany(i => i.Items).Select(InvoiceLine.From).ToList();
        }
        return await db.InvoiceItems.AsNoTracking().Where(i => i.InvoiceId == invoice.Id).OrderBy(i => i.Position)
            .Select(i => new InvoiceLine(i.ResourceId, i.ResourceName, i.ProviderId, i.OfferingId, i.OfferingName, i.PlanId, i.PlanName, i.ComponentName,
                i.BillingType, i.Unit, i.Quantity, i.UnitPrice, i.DaysInMonth, i.Total, i.Start, i.End))
            .ToListAsync(ct);
    }

    /// <summary>The month's usage per resource and plan, from the totals kept beside the records.</summary>
    public static async Task<List<BilledUsage>> TotalsAsync(CmpDbContext db, IQueryable<Guid>? scoped, BillingMonth month, CancellationToken ct)
    {
        var period = month.Period;
        var totals = db.UsageTotals.AsNoTracking().Where(t => t.Period == period);
        if (scoped is not null)
        {
            totals = totals.Where(t => scoped.Contains(t.ResourceId));
        }
        return (await totals.Select(t => new { t.ResourceId, t.PlanId, t.Invocations, t.Tokens }).ToListAsync(ct))
            .Select(t => new BilledUsage(t.ResourceId, t.PlanId == Guid.Empty ? null : t.PlanId, t.Invocations, t.Tokens)).ToList();
    }

    /// <summary>The month's usage per resource and plan, counted from the records by the database.</summary>
    public static async Task<List<BilledUsage>> RecountAsync(CmpDbContext db, IQueryable<Guid>? scoped, BillingMonth month, CancellationToken ct)
    {
        var (start, end) = (month.Start, month.End);
        var records = db.UsageRecords.AsNoTracking().Where(u => u.CreatedAt >= start && u.CreatedAt < end);
        if (scoped is not null)
        {
            records = records.Where(u => scoped.Contains(u.ResourceId));
        }
        return (await records.GroupBy(u => new { u.ResourceId, u.PlanId })
                .Select(g => new { g.Key.ResourceId, g.Key.PlanId, Invocations = g.LongCount(), Tokens = g.Sum(u => u.InputTokens + u.OutputTokens) })
                .ToListAsync(ct))
            .Select(u => new BilledUsage(u.ResourceId, u.PlanId, u.Invocations, u.Tokens)).ToList();
    }

    private static IQueryable<Guid>? Scoped(CmpDbContext db, BillingScope scope)
    {
        if (scope.CustomerIds is { } customers)
        {
            var ids = customers.ToList();
            return db.Resources.Where(r => ids.Contains(r.CustomerId)).Select(r => r.Id);
        }
        if (scope.ProviderId is { } provider)
        {
            return db.Resources.Where(r => r.Agent.ServiceProviderId == provider).Select(r => r.Id);
        }
        return null;
    }
}

/// <summary>An invoice line as every reader sees it, pending (computed) or frozen (stored).</summary>
public sealed record InvoiceLine(
    Guid ResourceId, string ResourceName, Guid ProviderId, Guid OfferingId, string OfferingName, Guid PlanId, string PlanName, string ComponentName,
    BillingType BillingType, string Unit, decimal Quantity, decimal UnitPrice, int? DaysInMonth, decimal Total, DateTime Start, DateTime End)
{
    public static InvoiceLine From(ComputedItem i) => new(
        i.Resource.Id, i.Resource.Name, i.Resource.ProviderId, i.Resource.OfferingId, i.Resource.OfferingName, i.Plan.Id, i.Plan.Name,
        i.Component?.Name ?? i.BillingType.ToString(), i.BillingType, i.Unit, i.Quantity, i.UnitPrice, i.DaysInMonth, i.Total, i.Start, i.End);
}
