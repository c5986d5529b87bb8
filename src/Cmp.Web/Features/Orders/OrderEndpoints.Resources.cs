using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Orders;

/// <summary>A resource as the resource endpoints and the buyer console show it: with its offering, plan, flow version and config.</summary>
internal sealed class ResourceRow
{
    public required Resource Resource { get; init; }
    public required Guid OfferingId { get; init; }
    public required string OfferingName { get; init; }
    public required string PlanName { get; init; }
    public required int VersionNumber { get; init; }
    public required Guid? ConfigId { get; init; }
}

/// <summary>
/// The resource rules, written once for <c>/api/marketplace-resources</c> and the buyer console: tenancy in the query
/// (another organization's resource is not found), a managing role in its project to change it, and guarded
/// transitions (terminate, switch_plan) recorded in the plan periods.
/// </summary>
internal static class ResourceOperations
{
    /// <summary>The resources the user sees, optionally of one organization and matching a search on name or offering.</summary>
    public static IQueryable<ResourceRow> Query(CmpDbContext db, Access access, Guid? customerId = null, string? search = null)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        var resources = access.IsStaff ? db.Resources : db.Resources.Where(r => customers.Contains(r.CustomerId));
        if (customerId is { } id)
        {
            resources = resources.Where(r => r.CustomerId == id);
        }
        var rows = resources.AsNoTracking().Select(r => new ResourceRow
        {
            Resource = r,
            OfferingId = r.Agent.OfferingId,
            OfferingName = r.Agent.Name,
            PlanName = r.Plan.Name,
            VersionNumber = db.FlowVersions.Where(v => v.Id == r.FlowVersionId).Select(v => v.Number).First(),
            ConfigId = db.AgentConfigs.Where(c => c.ResourceId == r.Id).Select(c => (Guid?)c.Id).FirstOrDefault(),
        });
        if (search is not null)
        {
            var t = search.ToLowerInvariant();
            rows = rows.Where(r => r.Resource.Name.ToLower().Contains(t) || r.OfferingName.ToLower().Contains(t));
        }
        return rows;
    }

    public static async Task<ResourceRow?> FindAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await Query(db, access).FirstOrDefaultAsync(r => r.Resource.Id == id, ct) : null;

    public static async Task<Outcome<ResourceRow>> GetAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct) =>
        await FindAsync(db, access, uuid, ct) is { } row ? row : Problems.NotFound("resource");

    /// <summary>Terminating and switching plans: a managing role in the resource's project or organization.</summary>
    public static Task<bool> CanManageAsync(ResourceRow row, Access access, CancellationToken ct) =>
        access.HasProjectPermissionAsync(row.Resource.ProjectId, Permission.UpdateProject, ct);

    /// <summary>The plans a resource may switch to: its offering's plans that are not archived (its current one among them).</summary>
    public static IQueryable<Plan> SwitchablePlans(CmpDbContext db, ResourceRow row)
    {
        var agentId = row.Resource.AgentId;
        return db.Plans.AsNoTracking().Where(p => p.AgentId == agentId && p.ArchivedAt == null);
    }

    public static async Task<Outcome<ResourceRow>> TerminateAsync(CmpDbContext db, Access access, string uuid, TimeProvider time, CancellationToken ct)
    {
        var row = await FindAsync(db, access, uuid, ct);
        if (row is null)
        {
            return Problems.NotFound("resource");
        }
        if (!await CanManageAsync(row, access, ct))
        {
            return Problems.Forbidden("Terminating needs a managing role in the resource's project or organization.");
        }
        var now = time.GetUtcNow().UtcDateTime;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            var moved = await db.Resources.Where(r => r.Id == row.Resource.Id && r.State == ResourceState.Ok)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.State, ResourceState.Terminated).SetProperty(r => r.TerminatedAt, now).SetProperty(r => r.Version, Guid.NewGuid()), ct);
            if (moved != 1)
            {
                return Problems.Conflict($"The resource is {row.Resource.State.Screaming()}; only an OK resource can be terminated.", ProblemTypes.InvalidTransition);
            }
            await PlanPeriods.CloseAsync(db, row.Resource.Id, now, ct);
            await tx.CommitAsync(ct);
        }
        return (await FindAsync(db, access, uuid, ct))!;
    }

    public static async Task<Outcome<ResourceRow>> SwitchPlanAsync(CmpDbContext db, Access access, string uuid, string? planUuid, TimeProvider time, CancellationToken ct)
    {
        var row = await FindAsync(db, access, uuid, ct);
        if (row is null)
        {
            return Problems.NotFound("resource");
        }
        if (!await CanManageAsync(row, access, ct))
        {
            return Problems.Forbidden("Switching plans needs a managing role in the resource's project or organization.");
        }
        Plan? plan = null;
        if (!Refs.TryParse(planUuid, out var planId) || (plan = await SwitchablePlans(db, row).FirstOrDefaultAsync(p => p.Id == planId, ct)) is null)
        {
            return Problems.Validation("plan", "No active plan with this uuid belongs to the resource's offering.");
        }
        if (plan.Id == row.Resource.PlanId)
        {
            return Problems.Conflict("The resource is already on this plan.", ProblemTypes.InvalidTransition);
        }
        var now = time.GetUtcNow().UtcDateTime;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            // Guarded on the plan it was on too: of two concurrent switches one wins, and the periods stay one chain.
            var moved = await db.Resources.Where(r => r.Id == row.Resource.Id && r.State == ResourceState.Ok && r.PlanId == row.Resource.PlanId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.PlanId, plan.Id).SetProperty(r => r.Version, Guid.NewGuid()), ct);
            if (moved != 1)
            {
                return Problems.Conflict("Only an OK resource can switch plans, and its plan changed meanwhile.", ProblemTypes.InvalidTransition);
            }
            await PlanPeriods.CloseAsync(db, row.Resource.Id, now, ct);
            PlanPeriods.Open(db, row.Resource.Id, plan.Id, now);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        return (await FindAsync(db, access, uuid, ct))!;
    }
}

// Resources' endpoints: list, detail, terminate, switch_plan; the rules are ResourceOperations'.
public static partial class OrderEndpoints
{
    private static ResourceDto ToDto(ResourceRow r, HttpContext ctx) => new(
        r.Resource.Id.Hex(), Refs.Url(ctx, "marketplace-resources", r.Resource.Id), r.Resource.Name, r.Resource.State.Screaming(), r.OfferingId.Hex(),
        r.OfferingName, r.Resource.PlanId.Hex(), r.Resource.ProjectId.Hex(), r.Resource.CustomerId.Hex(), r.VersionNumber, r.ConfigId?.Hex(),
        r.Resource.CreatedAt, r.Resource.TerminatedAt);

    private static async Task<Results<Ok<List<ResourceDto>>, ProblemHttpResult>> ListResourcesAsync(
        ListQuery query, string? customer_uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        Guid? customerId = null;
        if (customer_uuid is not null)
        {
            if (!Refs.TryParse(customer_uuid, out var id))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            customerId = id;
        }
        var rows = ResourceOperations.Query(db, access, customerId, query.Search);
        var ordering = new Ordering<ResourceRow>("-created").Field("created", r => r.Resource.CreatedAt).Field("name", r => r.Resource.Name)
            .Field("state", r => r.Resource.State).Tiebreak(r => r.Resource.Id);
        if (!ordering.TryApply(rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Results<Ok<ResourceDto>, ProblemHttpResult>> GetResourceAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        MapResource(await ResourceOperations.GetAsync(db, access, uuid, ct), ctx);

    private static async Task<Results<Ok<ResourceDto>, ProblemHttpResult>> TerminateAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct) =>
        MapResource(await ResourceOperations.TerminateAsync(db, access, uuid, time, ct), ctx);

    private static async Task<Results<Ok<ResourceDto>, ProblemHttpResult>> SwitchPlanAsync(
        string uuid, SwitchPlanRequest body, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct) =>
        MapResource(await ResourceOperations.SwitchPlanAsync(db, access, uuid, body.Plan, time, ct), ctx);

    private static Results<Ok<ResourceDto>, ProblemHttpResult> MapResource(Outcome<ResourceRow> outcome, HttpContext ctx) =>
        outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
}
