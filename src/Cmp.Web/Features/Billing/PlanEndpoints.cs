using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Billing;

/// <summary>
/// A seller's plans and their price components (FIXED, USAGE, ONE_TIME, LIMIT), under the agent's routes:
/// <c>GET|POST /api/provider-agents/{uuid}/plans/</c>, <c>POST …/plans/{plan}/archive/</c>. Prices are exact decimals in
/// the plan's currency; a plan has at most one LIMIT component, which the gateway enforces as a monthly cap.
/// The rules are <see cref="PlanOperations"/>'.
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
        var outcome = await PlanOperations.ListAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!.Select(p => p.ToDto()).ToList()) : outcome.ToProblemResult();
    }

    private static async Task<Results<Created<PlanDto>, ProblemHttpResult>> CreatePlanAsync(
        string uuid, PlanRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await PlanOperations.CreateAsync(db, access, uuid, body, ct);
        return outcome.Ok
            ? TypedResults.Created($"/api/provider-agents/{outcome.Value!.AgentId:N}/plans/", outcome.Value.ToDto())
            : outcome.ToProblemResult();
    }

    private static async Task<Results<Ok<PlanDto>, ProblemHttpResult>> ArchivePlanAsync(
        string uuid, string planUuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await PlanOperations.ArchiveAsync(db, access, uuid, planUuid, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!.ToDto()) : outcome.ToProblemResult();
    }
}
