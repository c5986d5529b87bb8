using System.Globalization;
using Cmp.Web.Infrastructure.Http;

namespace Cmp.Web.Features.Billing;

public sealed record PlanComponentDto(string BillingType, string Name, string MeasuredUnit, string Price, long? LimitAmount);
public sealed record PlanDto(string Uuid, string Name, string Description, string Currency, bool Archived, int? RateLimitPerMinute, IReadOnlyList<PlanComponentDto> Components, DateTime Created);
public sealed record PlanComponentRequest(string? BillingType, string? Name, string? MeasuredUnit, System.Text.Json.JsonElement? Price, long? LimitAmount);
public sealed record PlanRequest(string? Name, string? Description, string? Currency, List<PlanComponentRequest>? Components, int? RateLimitPerMinute);

public static class PlanMapping
{
    public static PlanDto ToDto(this Plan p) => new(
        p.Id.Hex(), p.Name, p.Description, p.Currency, p.ArchivedAt is not null, p.RateLimitPerMinute,
        p.Components.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).Select(c => new PlanComponentDto(
            c.BillingType.Screaming(), c.Name, c.MeasuredUnit, c.Price.ToString("0.######", CultureInfo.InvariantCulture), c.LimitAmount)).ToList(),
        p.CreatedAt);
}
