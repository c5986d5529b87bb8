using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>
/// A seller's plans and their price components (FIXED, USAGE, ONE_TIME, LIMIT), under the agent's routes:
/// <c>GET|POST /api/provider-agents/{uuid}/plans/</c>, <c>POST …/plans/{plan}/archive/</c>. Prices are exact decimals in
/// the plan's currency; a plan has at most one LIMIT component, which the gateway enforces as a monthly cap.
/// </summary>
public static class PlanEndpoints
{
    /// <summary>Maps the plan routes on the provider agents' group (which owns the <c>/api/provider-agents</c> prefix).</summary>
    public static RouteGroupBuilder MapPlanEndpoints(this RouteGroupBuilder agents)
    {
        agents.MapGet("/{uuid}/plans/", ListPlansAsync).WithName("ListPlans");
        agents.MapPost("/{uuid}/plans/", CreatePlanAsync).WithName("CreatePlan");
        agents.MapPost("/{uuid}/plans/{planUuid}/archive/", ArchivePlanAsync).WithName("ArchivePlan");
        return agents;
    }

    private static async Task<Results<Ok<List<PlanDto>>, ProblemHttpResult>> ListPlansAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await AgentQueries.FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        var plans = await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => p.AgentId == agent.Id).OrderBy(p => p.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok(plans.Select(p => p.ToDto()).ToList());
    }

    private static readonly IReadOnlySet<string> UsageUnits = new HashSet<string>(StringComparer.Ordinal) { MeteredUnits.Invocation, MeteredUnits.ThousandTokens };

    private static async Task<Results<Created<PlanDto>, ProblemHttpResult>> CreatePlanAsync(
        string uuid, PlanRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var (agent, refused) = await AgentQueries.FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: true);
        var description = errors.Text("description", body.Description, 2000);
        var currency = errors.Text("currency", body.Currency, 3, required: true);
        if (currency is { Length: > 0 } && !Regex.IsMatch(currency, "^[A-Z]{3}$"))
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
                var c = body.Components[i];
                var prefix = $"components[{i}]";
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
                components.Add(new PlanComponent { BillingType = type, Name = componentName ?? "", MeasuredUnit = unit, Price = price ?? 0, LimitAmount = c.LimitAmount });
            }
            if (components.Count(c => c.BillingType == BillingType.Limit) > 1)
            {
                errors.Add("components", "A plan has at most one LIMIT component.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent takes no new plans.", ProblemTypes.InvalidTransition);
        }
        var plan = new Plan { AgentId = agent.Id, Name = name!, Description = description ?? "", Currency = currency!, Components = components, RateLimitPerMinute = body.RateLimitPerMinute };
        db.Plans.Add(plan);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/provider-agents/{agent.Id:N}/plans/", plan.ToDto());
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

    private static async Task<Results<Ok<PlanDto>, ProblemHttpResult>> ArchivePlanAsync(
        string uuid, string planUuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await AgentQueries.FindAsync(uuid, db, access, ct);
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
        return moved == 1 ? TypedResults.Ok(plan.ToDto()) : Problems.Conflict("The plan is already archived.", ProblemTypes.InvalidTransition);
    }
}
