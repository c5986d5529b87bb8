using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>
/// The plan rules, written once for the API (<see cref="PlanEndpoints"/>) and the seller's Plans tab: listing an
/// agent's plans, adding one (validated by <see cref="Validate"/>), archiving one.
/// </summary>
public static partial class PlanOperations
{
    /// <summary>The units a USAGE or LIMIT component may count.</summary>
    public static readonly IReadOnlyList<string> MeasuredUnitChoices = [MeteredUnits.Invocation, MeteredUnits.ThousandTokens];

    private static readonly IReadOnlySet<string> UsageUnits = new HashSet<string>(MeasuredUnitChoices, StringComparer.Ordinal);

    /// <summary>The agent's plans, oldest first, archived ones included; not found unless the agent is visible.</summary>
    public static async Task<Outcome<List<Plan>>> ListAsync(CmpDbContext db, Access access, string agentUuid, CancellationToken ct)
    {
        var agent = await AgentQueries.FindAsync(agentUuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        return await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => p.AgentId == agent.Id).OrderBy(p => p.CreatedAt).ToListAsync(ct);
    }

    /// <summary>The plans an agent takes orders on (not archived), oldest first, with their components.</summary>
    public static Task<List<Plan>> OrderablePlansAsync(CmpDbContext db, Guid agentId, CancellationToken ct) =>
        db.Plans.AsNoTracking().Include(p => p.Components).Where(p => p.AgentId == agentId && p.ArchivedAt == null).OrderBy(p => p.CreatedAt).ToListAsync(ct);

    /// <summary>Adds a plan: 404/403 unless the caller manages the agent, 400 with field errors, 409 for an archived agent.</summary>
    public static async Task<Outcome<Plan>> CreateAsync(CmpDbContext db, Access access, string agentUuid, PlanRequest body, CancellationToken ct)
    {
        var (agent, refused) = await AgentQueries.FindManagedAsync(agentUuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var (errors, plan) = Validate(body);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent takes no new plans.", ProblemTypes.InvalidTransition);
        }
        plan!.AgentId = agent.Id;
        db.Plans.Add(plan);
        await db.SaveChangesAsync(ct);
        return plan;
    }

    /// <summary>
    /// The shape rules of a plan, with no database: the field errors (named as on the wire, e.g.
    /// <c>components[0].price</c>), or the plan to save (its agent not yet set).
    /// </summary>
    public static (FieldErrors Errors, Plan? Plan) Validate(PlanRequest body)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: true);
        var description = errors.Text("description", body.Description, 2000);
        var currency = errors.Text("currency", body.Currency, 3, required: true);
        if (currency is { Length: > 0 } && !CurrencyCode().IsMatch(currency))
        {
            errors.Add("currency", "Use an ISO 4217 code such as EUR or USD.");
        }
        if (body.RateLimitPerMinute is < 1 or > 100_000)
        {
            errors.Add("rate_limit_per_minute", "Between 1 and 100000 requests per minute, or leave it out for the platform default.");
        }
        var components = new List<PlanComponent>();
        if (body.Components is not { Count: > 0 and <= 20 })
        {
            errors.Add("components", "Give between 1 and 20 price components.");
        }
        else
        {
            for (var i = 0; i < body.Components.Count; i++)
            {
                components.Add(ValidateComponent(body.Components[i], $"components[{i}]", errors));
            }
            if (components.Count(c => c.BillingType == BillingType.Limit) > 1)
            {
                errors.Add("components", "A plan has at most one LIMIT component.");
            }
        }
        if (errors.Any)
        {
            return (errors, null);
        }
        return (errors, new Plan { Name = name!, Description = description ?? "", Currency = currency!, Components = components, RateLimitPerMinute = body.RateLimitPerMinute });
    }

    private static PlanComponent ValidateComponent(PlanComponentRequest c, string prefix, FieldErrors errors)
    {
        if (!WireNames.TryParseScreaming<BillingType>(c.BillingType, out var type))
        {
            errors.Add($"{prefix}.billing_type", "Choose one of: FIXED, USAGE, ONE_TIME, LIMIT.");
        }
        var componentName = errors.Text($"{prefix}.name", c.Name, 150, required: true);
        var unit = errors.Text($"{prefix}.measured_unit", c.MeasuredUnit, 40) ?? "";
        var price = ParsePrice(c.Price, $"{prefix}.price", errors);
        if (type == BillingType.Usage && !UsageUnits.Contains(unit))
        {
            errors.Add($"{prefix}.measured_unit", "A USAGE component needs measured_unit: invocation or 1k_tokens.");
        }
        if (type == BillingType.Limit)
        {
            if (c.LimitAmount is not > 0)
            {
                errors.Add($"{prefix}.limit_amount", "A LIMIT component needs limit_amount greater than 0.");
            }
            if (unit.Length == 0)
            {
                unit = MeteredUnits.Invocation;
            }
            else if (!UsageUnits.Contains(unit))
            {
                errors.Add($"{prefix}.measured_unit", "A LIMIT component counts invocation or 1k_tokens.");
            }
        }
        else if (c.LimitAmount is not null)
        {
            errors.Add($"{prefix}.limit_amount", "Only a LIMIT component has a limit_amount.");
        }
        return new PlanComponent { BillingType = type, Name = componentName ?? "", MeasuredUnit = unit, Price = price ?? 0, LimitAmount = c.LimitAmount };
    }

    /// <summary>A price as exact decimal from a JSON number or string: at least 0, at most 6 decimals.</summary>
    private static decimal? ParsePrice(JsonElement? raw, string field, FieldErrors errors)
    {
        decimal value;
        if (raw is not { } element || element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            errors.Add(field, "This field is required.");
            return null;
        }
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDecimal(out value))
        {
        }
        else if (element.ValueKind == JsonValueKind.String
                 && decimal.TryParse(element.GetString(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value))
        {
        }
        else
        {
            errors.Add(field, "Give the price as a decimal number, e.g. 19.99.");
            return null;
        }
        if (value < 0)
        {
            errors.Add(field, "The price cannot be negative.");
        }
        else if (value > 1_000_000_000m)
        {
            errors.Add(field, "The price is too large.");
        }
        else if (decimal.Round(value, 6) != value)
        {
            errors.Add(field, "Use at most 6 decimal places.");
        }
        return value;
    }

    /// <summary>Archives a plan (it takes no new orders; resources on it keep it): 404, 403, or 409 when already archived.</summary>
    public static async Task<Outcome<Plan>> ArchiveAsync(CmpDbContext db, Access access, string agentUuid, string planUuid, CancellationToken ct)
    {
        var agent = await AgentQueries.FindAsync(agentUuid, db, access, ct);
        if (agent is null || !Refs.TryParse(planUuid, out var planId))
        {
            return Problems.NotFound("plan");
        }
        if (!await AgentQueries.CanManageAsync(agent, access, ct))
        {
            return AgentQueries.CannotManage();
        }
        var now = DateTime.UtcNow;
        var moved = await db.Plans.Where(p => p.Id == planId && p.AgentId == agent.Id && p.ArchivedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.ArchivedAt, now).SetProperty(p => p.Version, Guid.NewGuid()), ct);
        var plan = await db.Plans.AsNoTracking().Include(p => p.Components).FirstOrDefaultAsync(p => p.Id == planId && p.AgentId == agent.Id, ct);
        if (plan is null)
        {
            return Problems.NotFound("plan");
        }
        return moved == 1 ? plan : Problems.Conflict("The plan is already archived.", ProblemTypes.InvalidTransition);
    }

    /// <summary>A price as the UI shows it: the currency's minor digits at least, then the code ("49.00 EUR", "0.002 EUR").</summary>
    public static string FormatPrice(string price, string currency) =>
        decimal.TryParse(price, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)
            ? new Money(amount, currency).ToString()
            : $"{price} {currency}";

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();
}
