using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Offerings;

public sealed record CatalogProviderDto(string Uuid, string Name);
public sealed record OfferingDto(
    string Uuid, string Url, string Type, string Name, string Description, string Category, string State, bool RequiresProviderApproval,
    CatalogProviderDto Provider, IReadOnlyList<PlanDto> Plans, DateTime Created);

/// <summary>
/// The public catalog over HTTP, readable without signing in: binds the request, calls
/// <see cref="CatalogOperations"/> (the same the public pages call) and maps the outcome.
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

    private static async Task<Results<Ok<List<OfferingDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? category, string? provider_uuid, HttpContext ctx, CmpDbContext db, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var outcome = await CatalogOperations.ListAsync(
            db, new CatalogQuery(query.Search, category, provider_uuid, query.Ordering, query.Page, query.PageSize), Refs.BaseUrl(ctx), ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        Paging.WriteHeaders(ctx, outcome.Value!.Total, query);
        return TypedResults.Ok(outcome.Value.Items.ToList());
    }

    private static async Task<Results<Ok<OfferingDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, CancellationToken ct)
    {
        var outcome = await CatalogOperations.GetAsync(db, uuid, Refs.BaseUrl(ctx), ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }
}
