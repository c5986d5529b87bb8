using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Offerings;

public sealed record CatalogProviderDto(string Uuid, string Name);
public sealed record OfferingDto(
    string Uuid, string Url, string Type, string Name, string Description, string Category, string State, bool RequiresProviderApproval,
    CatalogProviderDto Provider, IReadOnlyList<PlanDto> Plans, DateTime Created);

/// <summary>
/// The public catalog: ACTIVE agents with their provider, category, description and plans, readable
/// without signing in. It never shows the flow, prompts, files or secrets.
/// </summary>
public static class CatalogEndpoints
{
    public static IEndpointRouteBuilder MapCatalogEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/marketplace-public-offerings").WithTags("Catalog").AllowAnonymous().RequireRateLimiting(RateLimits.Public);
        g.MapGet("/", ListAsync).WithName("ListPublicOfferings");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetPublicOffering");
        return app;
    }

    // A class with init members (not a positional record) so EF can filter and order on the projection.
    private sealed class Row
    {
        public required ProviderAgent Agent { get; init; }
        public required Guid ProviderId { get; init; }
        public required string ProviderName { get; init; }
    }

    private static IQueryable<Row> Active(CmpDbContext db) =>
        db.ProviderAgents.AsNoTracking().Where(a => a.State == OfferingState.Active)
            .Select(a => new Row { Agent = a, ProviderId = a.ServiceProviderId, ProviderName = a.ServiceProvider.Customer.Name });

    private static async Task<List<OfferingDto>> ToDtosAsync(List<Row> rows, CmpDbContext db, HttpContext ctx, CancellationToken ct)
    {
        var ids = rows.Select(r => r.Agent.Id).ToList();
        var plans = await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => ids.Contains(p.AgentId) && p.ArchivedAt == null).ToListAsync(ct);
        return rows.Select(r => new OfferingDto(
            r.Agent.OfferingId.Hex(), Refs.Url(ctx, "marketplace-public-offerings", r.Agent.OfferingId), "agent", r.Agent.Name, r.Agent.Description,
            r.Agent.Category.ToString(), r.Agent.State.Screaming(), r.Agent.RequiresProviderApproval,
            new CatalogProviderDto(r.ProviderId.Hex(), r.ProviderName),
            plans.Where(p => p.AgentId == r.Agent.Id).OrderBy(p => p.CreatedAt).Select(p => p.ToDto()).ToList(),
            r.Agent.CreatedAt)).ToList();
    }

    private static async Task<Results<Ok<List<OfferingDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? category, string? provider_uuid, HttpContext ctx, CmpDbContext db, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var rows = Active(db);
        if (category is not null)
        {
            var name = Enum.GetNames<AgentCategory>().FirstOrDefault(n => n.Equals(category, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                return Problems.Validation("category", "Choose one of: Agents, Apps, Assistants, Automations.");
            }
            var parsed = Enum.Parse<AgentCategory>(name);
            rows = rows.Where(r => r.Agent.Category == parsed);
        }
        if (provider_uuid is not null)
        {
            if (!Refs.TryParse(provider_uuid, out var providerId))
            {
                return Problems.Validation("provider_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.ProviderId == providerId);
        }
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            rows = rows.Where(r => r.Agent.Name.ToLower().Contains(t) || r.Agent.Description.ToLower().Contains(t) || r.ProviderName.ToLower().Contains(t));
        }
        var ordering = new Ordering<Row>("name").Field("name", r => r.Agent.Name).Field("created", r => r.Agent.CreatedAt).Field("provider_name", r => r.ProviderName);
        if (!ordering.TryApply(rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(await ToDtosAsync(page, db, ctx, ct));
    }

    private static async Task<Results<Ok<OfferingDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id))
        {
            return Problems.NotFound("offering");
        }
        var row = await Active(db).FirstOrDefaultAsync(r => r.Agent.OfferingId == id, ct);
        return row is null ? Problems.NotFound("offering") : TypedResults.Ok((await ToDtosAsync([row], db, ctx, ct))[0]);
    }
}
