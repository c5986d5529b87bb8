using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>
/// The record of which plan a resource was on, and when (<see cref="PlanPeriod"/>), from which invoices are computed.
/// Each call runs inside the caller's transaction, beside the resource change it records, so the history and the
/// resource never disagree.
/// </summary>
public static class PlanPeriods
{
    /// <summary>The resource starts on a plan (its order is DONE, or its plan was switched).</summary>
    public static void Open(CmpDbContext db, Guid resourceId, Guid planId, DateTime at) =>
        db.PlanPeriods.Add(new PlanPeriod { ResourceId = resourceId, PlanId = planId, StartsAt = at });

    /// <summary>Ends the open period (switch_plan, terminate).</summary>
    public static Task CloseAsync(CmpDbContext db, Guid resourceId, DateTime at, CancellationToken ct) =>
        db.PlanPeriods.Where(p => p.ResourceId == resourceId && p.EndsAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.EndsAt, at), ct);

    /// <summary>The resource's periods, oldest first.</summary>
    public static Task<List<PlanPeriod>> OfAsync(CmpDbContext db, Guid resourceId, CancellationToken ct) =>
        db.PlanPeriods.AsNoTracking().Where(p => p.ResourceId == resourceId).OrderBy(p => p.StartsAt).ThenBy(p => p.Id).ToListAsync(ct);
}
