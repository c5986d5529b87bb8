using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Providers;

/// <summary>A provider registration with its organization's name.</summary>
public sealed record ProviderRow(MarketplaceProvider Provider, string CustomerName);

/// <summary>
/// Service provider registration and approval, for <c>/api/marketplace-service-providers/</c>, the organization
/// settings' Marketplace tab and the operator's providers page alike.
/// </summary>
public static class ProviderOperations
{
    /// <summary>Providers of the organizations the caller can see (staff: all).</summary>
    public static IQueryable<MarketplaceProvider> Visible(CmpDbContext db, Access access)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        return access.IsStaff ? db.ServiceProviders : db.ServiceProviders.Where(p => customers.Contains(p.CustomerId));
    }

    public static IQueryable<ProviderRow> Rows(this IQueryable<MarketplaceProvider> providers) =>
        providers.Select(p => new ProviderRow(p, p.Customer.Name));

    public static Task<ProviderRow?> FindAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id)
            ? Visible(db, access).AsNoTracking().Where(p => p.Id == id).Rows().FirstOrDefaultAsync(ct)
            : Task.FromResult<ProviderRow?>(null);

    /// <summary>The organization's registration, if it has one and the caller can see it.</summary>
    public static Task<ProviderRow?> ForCustomerAsync(CmpDbContext db, Access access, Guid customerId, CancellationToken ct) =>
        Visible(db, access).AsNoTracking().Where(p => p.CustomerId == customerId).Rows().FirstOrDefaultAsync(ct);

    /// <summary>
    /// Registers an organization as a seller (holders of REGISTER_SERVICE_PROVIDER, its owners by default): active at
    /// once, or pending until staff approve when SERVICE_PROVIDER_REQUIRES_APPROVAL is on. One per organization.
    /// </summary>
    public static async Task<Outcome<ProviderRow>> RegisterAsync(
        CmpDbContext db, Access access, PlatformSettings settings, ProviderRequest body, CancellationToken ct)
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
        return new ProviderRow(provider, customer.Name);
    }

    /// <summary>Staff move a pending provider to active (once: a second approval is a 409).</summary>
    public static async Task<Outcome<ProviderRow>> ApproveAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct)
    {
        var row = await FindAsync(db, access, uuid, ct);
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
        return row;
    }
}
