using System.Globalization;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>A plan's LIMIT component: at most <see cref="Amount"/> of <see cref="Unit"/> a month.</summary>
public sealed record PlanLimit(long Amount, MeteredUnit Unit)
{
    /// <summary>The cap in the counter's unit (tokens for a 1k_tokens cap).</summary>
    public long CounterCap => Unit == MeteredUnit.ThousandTokens ? checked(Amount * 1000) : Amount;

    public string Describe() => Unit == MeteredUnit.ThousandTokens ? $"{Amount} thousand tokens" : $"{Amount} invocations";

    /// <summary>The plan's LIMIT component, or null when it has none.</summary>
    public static PlanLimit? Of(PlanComponent? component) =>
        component is { BillingType: BillingType.Limit, LimitAmount: { } amount }
            ? new PlanLimit(amount, MeteredUnits.Parse(component.MeasuredUnit) ?? MeteredUnit.Invocation)
            : null;
}

/// <summary>A unit taken from a resource's monthly cap, to be given back if the run never reached a model.</summary>
public sealed record CapReservation(Guid ResourceId, Guid PlanId, string Period, PlanLimit Limit);

/// <summary>
/// Monthly caps as reservations in the database (<see cref="CapCounter"/>). An invocation cap is taken before the
/// run by one conditional upsert, atomic on SQLite and PostgreSQL alike: under any number of parallel calls, and
/// across server processes, the accepted calls never exceed the cap. A token cap cannot know a run's tokens
/// before it runs: a call is admitted while the month's tokens are below the cap and its tokens are added when it
/// is metered, so a token cap can be passed by the calls already running when it is reached, never by a later one.
/// The database, not Redis, holds the counters: they must survive a restart of either.
/// </summary>
public sealed class CapReservations(TimeProvider time, SqliteWriteGate gate)
{
    /// <summary>The UTC calendar month of an instant, as the counters and invoices name it.</summary>
    public static string PeriodOf(DateTime utc) => utc.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>The first instant of the next UTC month: when a reached cap opens again.</summary>
    public static DateTime NextPeriodStart(DateTime utc) => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);

    /// <summary>Takes one call's share of the cap; null when the cap is reached (nothing was taken).</summary>
    public async Task<CapReservation?> TryReserveAsync(CmpDbContext db, Guid resourceId, Guid planId, PlanLimit limit, CancellationToken ct)
    {
        var period = PeriodOf(time.GetUtcNow().UtcDateTime);
        var cap = limit.CounterCap;
        // An invocation takes 1 up front; a token cap only checks there is room (its tokens come after the run).
        long take = limit.Unit == MeteredUnit.Invocation ? 1 : 0;
        if (cap <= 0 || take > cap)
        {
            return null;
        }
        var taken = await gate.WriteAsync(db, () => db.Database.ExecuteSqlAsync($"""
            INSERT INTO cap_counters (resource_id, plan_id, period, used) VALUES ({resourceId}, {planId}, {period}, {take})
            ON CONFLICT (resource_id, plan_id, period) DO UPDATE SET used = cap_counters.used + {take}
            WHERE cap_counters.used + {take} <= {cap} AND cap_counters.used < {cap}
            """, ct));
        return taken == 1 ? new CapReservation(resourceId, planId, period, limit) : null;
    }

    /// <summary>Gives the unit back: the run failed before it reached a model, so it cost nothing and counts for nothing.</summary>
    public Task ReleaseAsync(CmpDbContext db, CapReservation reservation) =>
        reservation.Limit.Unit != MeteredUnit.Invocation
            ? Task.CompletedTask
            : gate.WriteAsync(db, () => db.Database.ExecuteSqlAsync($"""
                UPDATE cap_counters SET used = used - 1
                WHERE resource_id = {reservation.ResourceId} AND plan_id = {reservation.PlanId} AND period = {reservation.Period} AND used > 0
                """, CancellationToken.None));

    /// <summary>Adds a metered run's tokens to a token cap.</summary>
    public Task AddTokensAsync(CmpDbContext db, CapReservation reservation, long tokens) =>
        reservation.Limit.Unit != MeteredUnit.ThousandTokens || tokens <= 0
            ? Task.CompletedTask
            : gate.WriteAsync(db, () => db.Database.ExecuteSqlAsync($"""
                UPDATE cap_counters SET used = used + {tokens}
                WHERE resource_id = {reservation.ResourceId} AND plan_id = {reservation.PlanId} AND period = {reservation.Period}
                """, CancellationToken.None));

    /// <summary>What a resource has used of its plan's cap this month (0 when nothing yet).</summary>
    public async Task<long> UsedAsync(CmpDbContext db, Guid resourceId, Guid planId, CancellationToken ct)
    {
        var period = PeriodOf(time.GetUtcNow().UtcDateTime);
        return await db.CapCounters.Where(c => c.ResourceId == resourceId && c.PlanId == planId && c.Period == period)
            .Select(c => c.Used).FirstOrDefaultAsync(ct);
    }
}
