using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

public sealed record AgentAnalytics(int Orders, IReadOnlyDictionary<string, int> OrdersByState, int ActiveBuyers, int ActiveResources, long Invocations, long InputTokens, long OutputTokens);

/// <summary>One day of an agent's activity: orders placed, organizations holding an active subscription, invocations.</summary>
public sealed record AgentDay(DateOnly Day, int Orders, int Buyers, int Invocations);

/// <summary>Counts from the orders, resources and usage records of an agent (all real rows, nothing estimated).</summary>
public static class AgentAnalyticsOperations
{
    public static async Task<Outcome<AgentAnalytics>> TotalsAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        var found = await AgentOperations.GetAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<AgentAnalytics>.Fail(found.Problem!);
        }
        var agent = found.Value!;
        var byState = await db.Orders.Where(o => o.AgentId == agent.Id).GroupBy(o => o.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        var active = db.Resources.Where(r => r.AgentId == agent.Id && r.State == ResourceState.Ok);
        var resourceIds = db.Resources.Where(r => r.AgentId == agent.Id).Select(r => r.Id);
        var usage = db.UsageRecords.Where(u => resourceIds.Contains(u.ResourceId));
        return new AgentAnalytics(
            byState.Sum(s => s.Count),
            byState.ToDictionary(s => s.Key.Screaming(), s => s.Count),
            await active.Select(r => r.CustomerId).Distinct().CountAsync(ct),
            await active.CountAsync(ct),
            await usage.CountAsync(ct),
            await usage.SumAsync(u => (long?)u.InputTokens, ct) ?? 0,
            await usage.SumAsync(u => (long?)u.OutputTokens, ct) ?? 0);
    }

    /// <summary>
    /// The last <paramref name="days"/> days up to <paramref name="today"/> (UTC), oldest first, every day present (zeros
    /// included). Buyers on a day are the organizations with a subscription activated by its end and not terminated before it.
    /// </summary>
    public static async Task<Outcome<IReadOnlyList<AgentDay>>> DailyAsync(CmpDbContext db, Access access, string uuid, DateOnly today, int days, CancellationToken ct)
    {
        var found = await AgentOperations.GetAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<IReadOnlyList<AgentDay>>.Fail(found.Problem!);
        }
        var agentId = found.Value!.Id;
        var first = today.AddDays(1 - days);
        var since = first.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var orders = await db.Orders.AsNoTracking().Where(o => o.AgentId == agentId && o.CreatedAt >= since)
            .GroupBy(o => o.CreatedAt.Date).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        var resourceIds = db.Resources.Where(r => r.AgentId == agentId).Select(r => r.Id);
        var invocations = await db.UsageRecords.AsNoTracking().Where(u => resourceIds.Contains(u.ResourceId) && u.CreatedAt >= since)
            .GroupBy(u => u.CreatedAt.Date).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        // Subscriptions that overlap the window: few rows per agent, so the per-day overlap is counted here.
        var subscriptions = await db.Resources.AsNoTracking()
            .Where(r => r.AgentId == agentId && r.ActivatedAt != null && (r.TerminatedAt == null || r.TerminatedAt >= since))
            .Select(r => new { r.CustomerId, r.ActivatedAt, r.TerminatedAt }).ToListAsync(ct);
        var ordersByDay = orders.ToDictionary(o => DateOnly.FromDateTime(o.Key), o => o.Count);
        var invocationsByDay = invocations.ToDictionary(u => DateOnly.FromDateTime(u.Key), u => u.Count);
        var result = new List<AgentDay>(days);
        for (var day = first; day <= today; day = day.AddDays(1))
        {
            var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            var end = start.AddDays(1);
            var buyers = subscriptions.Where(s => s.ActivatedAt < end && (s.TerminatedAt is null || s.TerminatedAt >= start)).Select(s => s.CustomerId).Distinct().Count();
            result.Add(new AgentDay(day, ordersByDay.GetValueOrDefault(day), buyers, invocationsByDay.GetValueOrDefault(day)));
        }
        return result;
    }
}
