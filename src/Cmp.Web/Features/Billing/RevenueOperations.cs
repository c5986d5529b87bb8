using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>One offering's share of a provider's month.</summary>
public sealed record OfferingRevenue(Guid OfferingId, string Name, decimal Gross, long Invocations);

/// <summary>A provider's revenue for one month in one currency: gross, the platform's fee, net, and per offering.</summary>
public sealed record Revenue(
    Guid ProviderId, BillingMonth Month, string Currency, decimal Gross, decimal FeePercent, decimal PlatformFee, decimal Net,
    IReadOnlyList<OfferingRevenue> Offerings, IReadOnlyList<string> Currencies);

/// <summary>
/// A seller's revenue, from exactly the lines buyers are invoiced: the stored lines of frozen invoices (created or
/// paid; a canceled invoice earns nothing), and, for buyers whose invoice of that month is still pending, the lines
/// computed now. So the sum of every seller's gross equals the sum of every invoice's total, to the cent.
/// <c>PLATFORM_FEE_PERCENT</c> of the gross is the operator's, rounded half-even to the currency's minor unit; the net
/// is the rest.
/// </summary>
public static class RevenueOperations
{
    /// <summary>The provider, when the caller may read its revenue: staff, or a holder of MANAGE_OFFERINGS in its organization.</summary>
    public static async Task<Outcome<MarketplaceProvider>> FindAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id) || await ProviderOperations.Visible(db, access).AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct) is not { } provider)
        {
            return Problems.NotFound("service provider");
        }
        if (!access.IsStaff && !await access.HasCustomerPermissionAsync(provider.CustomerId, Permission.ManageOfferings, ct))
        {
            return Problems.Forbidden("Revenue is shown to the provider organization's owners and to staff.");
        }
        return provider;
    }

    public static async Task<Outcome<Revenue>> RevenueAsync(
        CmpDbContext db, Access access, string uuid, string? year, string? month, string? currency, decimal feePercent, DateTime now, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var period = BillingMonth.Of(now);
        if (year is not null || month is not null)
        {
            if (!int.TryParse(year, out var y) || !int.TryParse(month, out var m) || !BillingMonth.TryCreate(y, m, out period))
            {
                errors.Add(year is null ? "year" : "month", "Give year (such as 2026) and month (1 to 12) together.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var found = await FindAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<Revenue>.Fail(found.Problem!);
        }
        return await ComputeAsync(db, found.Value!.Id, period, currency?.Trim().ToUpperInvariant(), feePercent, ct);
    }

    /// <summary>The month's revenue of one provider (no access check: callers check first).</summary>
    public static async Task<Revenue> ComputeAsync(CmpDbContext db, Guid providerId, BillingMonth month, string? currency, decimal feePercent, CancellationToken ct)
    {
        var invoices = await db.Invoices.AsNoTracking().Where(i => i.Year == month.Year && i.Month == month.Month && i.State != InvoiceState.Pending)
            .Select(i => new { i.CustomerId, i.Currency, i.State }).ToListAsync(ct);
        var frozen = invoices.Select(i => (i.CustomerId, i.Currency)).ToHashSet();
        var stored = await (
                from item in db.InvoiceItems.AsNoTracking()
                join invoice in db.Invoices on item.InvoiceId equals invoice.Id
                where item.ProviderId == providerId && invoice.Year == month.Year && invoice.Month == month.Month
                    && (invoice.State == InvoiceState.Created || invoice.State == InvoiceState.Paid)
                select new { item.OfferingId, item.OfferingName, item.Total, invoice.Currency })
            .ToListAsync(ct);
        var computed = (await InvoiceBook.ComputeAsync(db, BillingScope.Provider(providerId), month, ct))
            .Where(i => !frozen.Contains((i.Resource.CustomerId, i.Currency)))
            .Select(i => new { i.Resource.OfferingId, i.Resource.OfferingName, i.Total, i.Currency });
        var lines = stored.Select(s => (s.OfferingId, s.OfferingName, s.Total, s.Currency)).Concat(computed.Select(c => (c.OfferingId, c.OfferingName, c.Total, c.Currency))).ToList();
        var currencies = lines.Select(l => l.Currency).Distinct().Order(StringComparer.Ordinal).ToList();
        var chosen = currency is { Length: > 0 } ? currency : lines.GroupBy(l => l.Currency).OrderByDescending(g => g.Sum(l => l.Total)).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).FirstOrDefault()
            ?? await db.Plans.AsNoTracking().Where(p => p.ArchivedAt == null && db.ProviderAgents.Any(a => a.Id == p.AgentId && a.ServiceProviderId == providerId))
                .Select(p => p.Currency).FirstOrDefaultAsync(ct)
            ?? "EUR";
        var period = month.Period;
        var invocations = await (
                from t in db.UsageTotals.AsNoTracking()
                join r in db.Resources on t.ResourceId equals r.Id
                where t.Period == period && r.Agent.ServiceProviderId == providerId
                group t by r.Agent.OfferingId into g
                select new { OfferingId = g.Key, Count = g.Sum(t => t.Invocations) })
            .ToDictionaryAsync(g => g.OfferingId, g => g.Count, ct);
        var offerings = await db.ProviderAgents.AsNoTracking().Where(a => a.ServiceProviderId == providerId).Select(a => new { a.OfferingId, a.Name }).ToListAsync(ct);
        var inCurrency = lines.Where(l => l.Currency == chosen).ToList();
        var perOffering = offerings
            .Select(o => new OfferingRevenue(o.OfferingId, o.Name, inCurrency.Where(l => l.OfferingId == o.OfferingId).Sum(l => l.Total), invocations.GetValueOrDefault(o.OfferingId)))
            .Where(o => o.Gross != 0 || o.Invocations != 0)
            .OrderByDescending(o => o.Gross).ThenBy(o => o.Name, StringComparer.Ordinal).ToList();
        var gross = inCurrency.Sum(l => l.Total);
        var fee = new Money(gross * feePercent / 100m, chosen).Round().Amount;
        return new Revenue(providerId, month, chosen, gross, feePercent, fee, gross - fee, perOffering, currencies);
    }
}
