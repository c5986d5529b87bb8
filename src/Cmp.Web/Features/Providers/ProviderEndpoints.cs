using Cmp.Web.Features.Organizations;
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
        g.MapGet("/", ListAsync).WithName("ListServiceProviders");
        g.MapPost("/", CreateAsync).WithName("CreateServiceProvider");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetServiceProvider");
        g.MapPost("/{uuid}/approve/", ApproveAsync).WithName("ApproveServiceProvider");
        return app;
    }

    private sealed record Row(MarketplaceProvider Provider, string CustomerName);

    private static ProviderDto ToDto(Row r, HttpContext ctx) => new(
        r.Provider.Id.Hex(), Refs.Url(ctx, "marketplace-service-providers", r.Provider.Id), Refs.Url(ctx, "customers", r.Provider.CustomerId),
        r.Provider.CustomerId.Hex(), r.CustomerName, r.Provider.State.ToString().ToLowerInvariant(), r.Provider.CreatedAt, r.Provider.ApprovedAt);

    /// <summary>Providers of the organizations the caller can see (staff: all).</summary>
    internal static IQueryable<MarketplaceProvider> Visible(CmpDbContext db, Access access)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        return access.IsStaff ? db.ServiceProviders : db.ServiceProviders.Where(p => customers.Contains(p.CustomerId));
    }

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
        var page = await ordered.Select(p => new Row(p, p.Customer.Name)).ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Results<Created<ProviderDto>, ProblemHttpResult>> CreateAsync(
        ProviderRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, CancellationToken ct)
    {
        Customer? customer = null;
        if (string.IsNullOrWhiteSpace(body.Customer))
        {
            return Problems.Validation("customer", "This field is required.");
        }
        if (Refs.TryParse(body.Customer, out var customerId))
        {
            customer = await access.VisibleCustomers().FirstOrDefaultAsync(c => c.Id == customerId, ct);
        }
        if (customer is null)
        {
            return Problems.Validation("customer", "No organization with this uuid is visible to you.");
        }
        if (!await access.HasCustomerPermissionAsync(customer.Id, Permission.RegisterServiceProvider, ct))
        {
            return Problems.Forbidden($"Registering as a service provider needs {Permission.RegisterServiceProvider} on the organization (its owners hold it).");
        }
        if (await db.ServiceProviders.AnyAsync(p => p.CustomerId == customer.Id, ct))
        {
            return Problems.Conflict("This organization is already registered as a service provider.");
        }
        var provider = new MarketplaceProvider
        {
            CustomerId = customer.Id,
            CreatedById = access.UserId,
            State = settings.ProviderRequiresApproval ? ServiceProviderState.Pending : ServiceProviderState.Active,
        };
        if (provider.State == ServiceProviderState.Active)
        {
            provider.ApprovedAt = DateTime.UtcNow;
        }
        db.ServiceProviders.Add(provider);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict("This organization is already registered as a service provider.");
        }
        var dto = ToDto(new Row(provider, customer.Name), ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Row?> FindAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id)
            ? await Visible(db, access).AsNoTracking().Where(p => p.Id == id).Select(p => new Row(p, p.Customer.Name)).FirstOrDefaultAsync(ct)
            : null;

    private static async Task<Results<Ok<ProviderDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindAsync(uuid, db, access, ct);
        return row is null ? Problems.NotFound("service provider") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Ok<ProviderDto>, ProblemHttpResult>> ApproveAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindAsync(uuid, db, access, ct);
        if (row is null)
        {
            return Problems.NotFound("service provider");
        }
        if (!access.IsStaff)
        {
            return Problems.Forbidden("Only staff approve service providers.");
        }
        var now = DateTime.UtcNow;
        var me = access.UserId;
        var moved = await db.ServiceProviders.Where(p => p.Id == row.Provider.Id && p.State == ServiceProviderState.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.State, ServiceProviderState.Active).SetProperty(p => p.ApprovedAt, now)
                .SetProperty(p => p.ApprovedById, me).SetProperty(p => p.Version, Guid.NewGuid()), ct);
        if (moved != 1)
        {
            return Problems.Conflict("The service provider is already active.", ProblemTypes.InvalidTransition);
        }
        row.Provider.State = ServiceProviderState.Active;
        row.Provider.ApprovedAt = now;
        return TypedResults.Ok(ToDto(row, ctx));
    }
}
