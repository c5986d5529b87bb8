using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>A resource's use of one metered price component (USAGE or LIMIT) of one plan in one month.</summary>
public sealed record ComponentUsage(
    Guid ResourceId, string ResourceName, Guid OfferingId, string OfferingName, Guid PlanId, string PlanName, string ComponentName,
    BillingType BillingType, string MeasuredUnit, long Usage, long? LimitAmount, long Invocations, long Tokens, BillingMonth Month);

/// <summary>
/// <c>GET /api/marketplace-component-usages/</c>: per resource and metered price component, the units used in a month,
/// summed from the usage records (the monthly totals kept beside them); in the component's unit (invocations, or thousands of tokens
/// rounded up), the same quantity the invoice charges. Resources are those the caller sees (their organizations' and
/// projects'; staff all).
/// </summary>
public static class ComponentUsageOperations
{
    public static async Task<Outcome<List<ComponentUsage>>> ListAsync(CmpDbContext db, Access access, string? resourceUuid, string? billingPeriod, DateTime now, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var month = BillingMonth.Of(now);
        if (billingPeriod is not null && !BillingMonth.TryParse(billingPeriod, out month))
        {
            errors.Add("billing_period", "Use a month as YYYY-MM.");
        }
        Guid? resourceId = null;
        if (resourceUuid is not null)
        {
            if (Refs.TryParse(resourceUuid, out var id))
            {
                resourceId = id;
            }
            else
            {
                errors.Add("resource_uuid", "Enter a valid uuid.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var customers = access.VisibleCustomers().Select(c => c.Id);
        var resources = access.IsStaff ? db.Resources.AsNoTracking() : db.Resources.AsNoTracking().Where(r => customers.Contains(r.CustomerId));
        if (resourceId is { } one)
        {
            resources = resources.Where(r => r.Id == one);
        }
        var period = month.Period;
        var sums = await (
                from t in db.UsageTotals.AsNoTracking()
                join r in resources on t.ResourceId equals r.Id
                where t.Period == period && t.PlanId != Guid.Empty
                select new { t.ResourceId, t.PlanId, t.Invocations, t.Tokens })
            .ToListAsync(ct);
        var resourceIds = sums.Select(s => s.ResourceId).Distinct().ToList();
        var planIds = sums.Select(s => s.PlanId).Distinct().ToList();
        var names = await db.Resources.AsNoTracking().Where(r => resourceIds.Contains(r.Id))
            .Select(r => new { r.Id, r.Name, r.Agent.OfferingId, OfferingName = r.Agent.Name }).ToDictionaryAsync(r => r.Id, ct);
        var plans = await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => planIds.Contains(p.Id)).ToDictionaryAsync(p => p.Id, ct);
        var result = new List<ComponentUsage>();
        foreach (var s in sums)
        {
            if (!names.TryGetValue(s.ResourceId, out var resource) || !plans.TryGetValue(s.PlanId, out var plan))
            {
                continue;
            }
            foreach (var c in plan.Components.Where(c => c.BillingType is BillingType.Usage or BillingType.Limit).OrderBy(c => c.Name, StringComparer.Ordinal))
            {
                var unit = MeteredUnits.Parse(c.MeasuredUnit) ?? MeteredUnit.Invocation;
                var usage = unit == MeteredUnit.ThousandTokens ? (s.Tokens + 999) / 1000 : s.Invocations;
                result.Add(new ComponentUsage(resource.Id, resource.Name, resource.OfferingId, resource.OfferingName, plan.Id, plan.Name, c.Name, c.BillingType,
                    unit == MeteredUnit.ThousandTokens ? MeteredUnits.ThousandTokens : MeteredUnits.Invocation, usage, c.LimitAmount, s.Invocations, s.Tokens, month));
            }
        }
        return result.OrderBy(r => r.ResourceName, StringComparer.Ordinal).ThenBy(r => r.ResourceId).ThenBy(r => r.PlanName, StringComparer.Ordinal).ToList();
    }
}
