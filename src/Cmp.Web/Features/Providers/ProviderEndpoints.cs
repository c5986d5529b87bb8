using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Providers;

public sealed record ProviderRequest(string? Customer);
public sealed record ProviderDto(string Uuid, string Url, string Customer, string CustomerUuid, string CustomerName, string State, DateTime Created, DateTime? ApprovedAt);

public static class ProviderEndpoints
{
    public static IEndpointRouteBuilder MapProviderEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/marketplace-service-providers").WithTags("Service providers").RequireAuthorization();
        g.MapRevenueEndpoints();
        g.MapGet("/", ListAsync).WithName("ListServiceProviders");
        g.MapPost("/", CreateAsync).WithName("CreateServiceProvider");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetServiceProvider");
        g.MapPost("/{uuid}/approve/", ApproveAsync).WithName("ApproveServiceProvider");
        return app;
    }

    private static ProviderDto ToDto(ProviderRow r, HttpContext ctx) => new(
        r.Provider.Id.Hex(), Refs.Url(ctx, "marketplace-service-providers", r.Provider.Id), Refs.Url(ctx, "customers", r.Provider.CustomerId),
        r.Provider.CustomerId.Hex(), r.CustomerName, r.Provider.State.ToString().ToLowerInvariant(), r.Provider.CreatedAt, r.Provider.ApprovedAt);

    /// <summary>Providers of the organizations the caller can see (staff: all).</summary>
    internal static IQueryable<MarketplaceProvider> Visible(CmpDbContext db, Access access) => ProviderOperations.Visible(db, access);

    private static async Task<Results<Ok<List<ProviderDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? customer_uuid, string? state, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var providers = Visible(db, access).AsNoTracking();
        if (customer_uuid is not null)
        {
            if (!Refs.TryParse(customer_uuid, out var customerId))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            providers = providers.Where(p => p.CustomerId == customerId);
        }
        if (state is not null)
        {
            if (!Enum.TryParse<ServiceProviderState>(state, ignoreCase: true, out var parsed) || int.TryParse(state, out _))
            {
                return Problems.Validation("state", "Choose one of: pending, active.");
            }
            providers = providers.Where(p => p.State == parsed);
        }
        var ordering = new Ordering<MarketplaceProvider>("-created").Field("created", p => p.CreatedAt).Field("customer_name", p => p.Customer.Name);
        if (!ordering.TryApply(providers, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.Rows().ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Results<Created<ProviderDto>, ProblemHttpResult>> CreateAsync(
        ProviderRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, CancellationToken ct)
    {
        var outcome = await ProviderOperations.RegisterAsync(db, access, settings, body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = ToDto(outcome.Value!, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<ProviderDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await ProviderOperations.FindAsync(db, access, uuid, ct);
        return row is null ? Problems.NotFound("service provider") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Ok<ProviderDto>, ProblemHttpResult>> ApproveAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await ProviderOperations.ApproveAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }
}
