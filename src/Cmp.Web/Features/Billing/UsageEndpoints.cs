using System.Globalization;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cmp.Web.Features.Billing;

public sealed record UsageTotals(long Invocations, long InputTokens, long OutputTokens);
public sealed record UsageDay(string Date, long Invocations, long InputTokens, long OutputTokens);
public sealed record UsageKey(string? KeyUuid, string Name, long Invocations);
public sealed record UsageReport(UsageTotals Total, IReadOnlyList<UsageDay> Days, IReadOnlyList<UsageKey> Keys);

/// <summary>
/// The Billing feature: plans' money rules, usage records and what is reported from them. <c>GET
/// /api/customer-agent-configs/{uuid}/usage/?from=&amp;to=</c>: a buyer's usage by day and by key (UTC days, both ends
/// included; 30 days up to today by default).
/// </summary>
public static class BillingEndpoints
{
    public static IServiceCollection AddBilling(this IServiceCollection services)
    {
        services.AddSingleton<CapReservations>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<MonthClose>();
        services.AddHostedService(sp => sp.GetRequiredService<MonthClose>());
        return services;
    }

    /// <summary>Maps the usage report on the agent configs' group (which owns the <c>/api/customer-agent-configs</c> prefix).</summary>
    public static RouteGroupBuilder MapUsageEndpoints(this RouteGroupBuilder configs)
    {
        configs.MapGet("/{uuid}/usage/", UsageAsync).WithName("GetAgentConfigUsage");
        return configs;
    }

    private static async Task<Results<Ok<UsageReport>, ProblemHttpResult>> UsageAsync(
        string uuid, string? from, string? to, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        var outcome = await UsageReports.ReportAsync(db, access, uuid, from, to, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }
}

/// <summary>The usage report, for the API and the buyer console's Usage tab alike.</summary>
internal static class UsageReports
{
    /// <summary>
    /// A config's usage by UTC day and by key between <paramref name="from"/> and <paramref name="to"/> (YYYY-MM-DD, both
    /// included; by default the 30 days up to <paramref name="today"/>). Not found for a config the user does not see.
    /// </summary>
    public static async Task<Outcome<UsageReport>> ReportAsync(CmpDbContext db, Access access, string uuid, string? from, string? to, DateOnly today, CancellationToken ct)
    {
        var config = await AgentConfigQueries.FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        var errors = new FieldErrors();
        static DateOnly? Parse(string? value, string field, FieldErrors errors)
        {
            if (value is null)
            {
                return null;
            }
            if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                return date;
            }
            errors.Add(field, "Use a date as YYYY-MM-DD.");
            return null;
        }
        var end = Parse(to, "to", errors) ?? today;
        var start = Parse(from, "from", errors) ?? (end > DateOnly.MinValue.AddDays(29) ? end.AddDays(-29) : DateOnly.MinValue);
        if (!errors.Any && start > end)
        {
            errors.Add("from", "from must not be after to.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        // Nothing is metered after today, so a later end (up to 9999-12-31) reads as today's end; no date arithmetic can overflow.
        var startAt = start.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var endAt = (end < today ? end : today).AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var records = await db.UsageRecords.AsNoTracking().Where(u => u.ConfigId == config.Id && u.CreatedAt >= startAt && u.CreatedAt < endAt)
            .Select(u => new { u.CreatedAt, u.InputTokens, u.OutputTokens, u.ApiKeyId }).ToListAsync(ct);
        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.ConfigId == config.Id).Select(k => new { k.Id, k.Name }).ToListAsync(ct);
        var days = records.GroupBy(r => DateOnly.FromDateTime(r.CreatedAt)).OrderBy(g => g.Key)
            .Select(g => new UsageDay(g.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), g.Count(), g.Sum(r => r.InputTokens), g.Sum(r => r.OutputTokens))).ToList();
        var byKey = records.GroupBy(r => r.ApiKeyId).Select(g => new UsageKey(g.Key?.Hex(), g.Key is { } id ? keys.FirstOrDefault(k => k.Id == id)?.Name ?? "" : "widget", g.Count()))
            .OrderByDescending(k => k.Invocations).ToList();
        return new UsageReport(new UsageTotals(records.Count, records.Sum(r => r.InputTokens), records.Sum(r => r.OutputTokens)), days, byKey);
    }
}
