using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Offerings;

/// <summary>What a catalog list asks for: the API's <c>search</c>, <c>category</c>, <c>provider_uuid</c>, <c>o=</c> and paging.</summary>
public sealed record CatalogQuery(
    string? Search = null, string? Category = null, string? ProviderUuid = null, IReadOnlyList<string>? Ordering = null,
    int Page = 1, int PageSize = ListQuery.DefaultPageSize);

/// <summary>
/// The public catalog's rules, written once for the API (<see cref="CatalogEndpoints"/>) and the public pages: only
/// ACTIVE offerings, with their provider, category, description and non-archived plans; never the flow, prompts,
/// files or secrets. Anyone may read it, so no caller is needed.
/// </summary>
public static class CatalogOperations
{
    public const string Collection = "marketplace-public-offerings";

    /// <summary>The categories a buyer may filter by, as the wire names them.</summary>
    public static IReadOnlyList<string> Categories { get; } = Enum.GetNames<AgentCategory>();

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

    /// <summary>The filtered, ordered page; a bad category, provider uuid or ordering field is a 400 naming it.</summary>
    public static async Task<Outcome<Paged<OfferingDto>>> ListAsync(CmpDbContext db, CatalogQuery query, string baseUrl, CancellationToken ct)
    {
        var rows = Active(db);
        if (query.Category is not null)
        {
            var name = Categories.FirstOrDefault(n => n.Equals(query.Category, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                return Problems.Validation("category", "Choose one of: Agents, Apps, Assistants, Automations.");
            }
            var parsed = Enum.Parse<AgentCategory>(name);
            rows = rows.Where(r => r.Agent.Category == parsed);
        }
        if (query.ProviderUuid is not null)
        {
            if (!Refs.TryParse(query.ProviderUuid, out var providerId))
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
        var ordering = new Ordering<Row>("name")
            .Field("name", r => r.Agent.Name).Field("created", r => r.Agent.CreatedAt).Field("provider_name", r => r.ProviderName)
            .Tiebreak(r => r.Agent.Id);
        if (!ordering.TryApply(rows, [.. query.Ordering ?? []], out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPagedAsync(query.Page, query.PageSize, ct);
        var dtos = await ToDtosAsync([.. page.Items], db, baseUrl, ct);
        return new Paged<OfferingDto>(dtos, page.Total, page.Page, page.PageSize);
    }

    /// <summary>One ACTIVE offering; anything else (unknown, draft, paused, archived, not a uuid) is not found.</summary>
    public static async Task<Outcome<OfferingDto>> GetAsync(CmpDbContext db, string? uuid, string baseUrl, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id))
        {
            return Problems.NotFound("offering");
        }
        var row = await Active(db).FirstOrDefaultAsync(r => r.Agent.OfferingId == id, ct);
        return row is null ? Problems.NotFound("offering") : (await ToDtosAsync([row], db, baseUrl, ct))[0];
    }

    /// <summary>The newest ACTIVE offerings, for the home page.</summary>
    public static async Task<IReadOnlyList<OfferingDto>> NewestAsync(CmpDbContext db, int count, string baseUrl, CancellationToken ct)
    {
        var outcome = await ListAsync(db, new CatalogQuery(Ordering: ["-created"], PageSize: count), baseUrl, ct);
        return outcome.Value!.Items;
    }

    /// <summary>The providers that sell at least one ACTIVE offering, by name: the choices of the provider filter.</summary>
    public static async Task<IReadOnlyList<CatalogProviderDto>> ProvidersAsync(CmpDbContext db, CancellationToken ct)
    {
        var providers = await Active(db).Select(r => new { r.ProviderId, r.ProviderName }).Distinct().ToListAsync(ct);
        return providers.OrderBy(p => p.ProviderName, StringComparer.CurrentCultureIgnoreCase).ThenBy(p => p.ProviderId)
            .Select(p => new CatalogProviderDto(p.ProviderId.Hex(), p.ProviderName)).ToList();
    }

    public static string Url(string baseUrl, Guid offeringId) => $"{baseUrl}/api/{Collection}/{offeringId:N}/";

    private static async Task<List<OfferingDto>> ToDtosAsync(List<Row> rows, CmpDbContext db, string baseUrl, CancellationToken ct)
    {
        var ids = rows.Select(r => r.Agent.Id).ToList();
        var plans = await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => ids.Contains(p.AgentId) && p.ArchivedAt == null).ToListAsync(ct);
        return rows.Select(r => new OfferingDto(
            r.Agent.OfferingId.Hex(), Url(baseUrl, r.Agent.OfferingId), "agent", r.Agent.Name, r.Agent.Description,
            r.Agent.Category.ToString(), r.Agent.State.Screaming(), r.Agent.RequiresProviderApproval,
            new CatalogProviderDto(r.ProviderId.Hex(), r.ProviderName),
            plans.Where(p => p.AgentId == r.Agent.Id).OrderBy(p => p.CreatedAt).Select(p => p.ToDto()).ToList(),
            r.Agent.CreatedAt)).ToList();
    }
}
