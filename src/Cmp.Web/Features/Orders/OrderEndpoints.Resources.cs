using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Orders;

// Resources: list, detail, terminate, switch_plan (each recorded in the plan periods).
public static partial class OrderEndpoints
{
    // ---- Resources --------------------------------------------------------------------------

    private sealed class ResourceRow
    {
        public required Resource Resource { get; init; }
        public required Guid OfferingId { get; init; }
        public required string OfferingName { get; init; }
        public required int VersionNumber { get; init; }
        public required Guid? ConfigId { get; init; }
    }

    private static IQueryable<ResourceRow> VisibleResources(CmpDbContext db, Access access)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        var resources = access.IsStaff ? db.Resources : db.Resources.Where(r => customers.Contains(r.CustomerId));
        return resources.Select(r => new ResourceRow
        {
            Resource = r,
            OfferingId = r.Agent.OfferingId,
            OfferingName = r.Agent.Name,
            VersionNumber = db.FlowVersions.Where(v => v.Id == r.FlowVersionId).Select(v => v.Number).First(),
            ConfigId = db.AgentConfigs.Where(c => c.ResourceId == r.Id).Select(c => (Guid?)c.Id).FirstOrDefault(),
        });
    }

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
        var rows = VisibleResources(db, access).AsNoTracking();
        if (customer_uuid is not null)
        {
            if (!Refs.TryParse(customer_uuid, out var id))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.Resource.CustomerId == id);
        }
        if (query.Search is { } search)
        {
            var t = search.ToLowerInvariant();
            rows = rows.Where(r => r.Resource.Name.ToLower().Contains(t) || r.OfferingName.ToLower().Contains(t));
        }
        var ordering = new Ordering<ResourceRow>("-created").Field("created", r => r.Resource.CreatedAt).Field("name", r => r.Resource.Name)
            .Field("state", r => r.Resource.State).Tiebreak(r => r.Resource.Id);
        if (!ordering.TryApply(rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<ResourceRow?> FindResourceAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await VisibleResources(db, access).AsNoTracking().FirstOrDefaultAsync(r => r.Resource.Id == id, ct) : null;

    private static async Task<Results<Ok<ResourceDto>, ProblemHttpResult>> GetResourceAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindResourceAsync(uuid, db, access, ct);
        return row is null ? Problems.NotFound("resource") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Ok<ResourceDto>, ProblemHttpResult>> TerminateAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindResourceAsync(uuid, db, access, ct);
        if (row is null)
        {
            return Problems.NotFound("resource");
        }
        if (!await access.HasProjectPermissionAsync(row.Resource.ProjectId, Permission.UpdateProject, ct))
        {
            return Problems.Forbidden("Terminating needs a managing role in the resource's project or organization.");
        }
        var now = DateTime.UtcNow;
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
        return TypedResults.Ok(ToDto((await FindResourceAsync(uuid, db, access, ct))!, ctx));
    }

    private static async Task<Results<Ok<ResourceDto>, ProblemHttpResult>> SwitchPlanAsync(
        string uuid, SwitchPlanRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindResourceAsync(uuid, db, access, ct);
        if (row is null)
        {
            return Problems.NotFound("resource");
        }
        if (!await access.HasProjectPermissionAsync(row.Resource.ProjectId, Permission.UpdateProject, ct))
        {
            return Problems.Forbidden("Switching plans needs a managing role in the resource's project or organization.");
        }
        var agentId = row.Resource.AgentId;
        Plan? plan = null;
        if (!Refs.TryParse(body.Plan, out var planId) || (plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == planId && p.AgentId == agentId && p.ArchivedAt == null, ct)) is null)
        {
            return Problems.Validation("plan", "No active plan with this uuid belongs to the resource's offering.");
        }
        if (plan.Id == row.Resource.PlanId)
        {
            return Problems.Conflict("The resource is already on this plan.", ProblemTypes.InvalidTransition);
        }
        var now = DateTime.UtcNow;
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
        return TypedResults.Ok(ToDto((await FindResourceAsync(uuid, db, access, ct))!, ctx));
    }
}
