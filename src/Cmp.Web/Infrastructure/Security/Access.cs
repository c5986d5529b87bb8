using System.Security.Claims;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Security;

/// <summary>
/// Every permission check goes through here. Visibility is a query filter (so another tenant's
/// object simply is not found: 404), and permissions come from <see cref="RolePermissions"/>.
/// A check that cannot find its scope answers false: it fails closed.
/// </summary>
/// <remarks>
/// Built from a <see cref="ClaimsPrincipal"/>, never from an HTTP request: an API call gets the one its token
/// authenticated (see <see cref="AddAccess"/>), a Blazor circuit the one its sign-in cookie carried.
/// </remarks>
public sealed class Access(CmpDbContext db, ClaimsPrincipal principal)
{
    private ClaimsPrincipal Principal => principal;

    public ClaimsPrincipal User => principal;

    /// <summary>Per request: the principal the authentication middleware put on the request (nobody outside one).</summary>
    public static IServiceCollection AddAccess(IServiceCollection services) =>
        services.AddScoped(sp => new Access(
            sp.GetRequiredService<CmpDbContext>(),
            sp.GetRequiredService<IHttpContextAccessor>().HttpContext?.User ?? new ClaimsPrincipal()));

    public Guid UserId => Principal.UserId();

    public bool IsStaff => Principal.IsStaff();

    /// <summary>Organizations the caller may see: a role in it or in one of its projects.</summary>
    public IQueryable<Customer> VisibleCustomers()
    {
        if (IsStaff)
        {
            return db.Customers;
        }
        var me = UserId;
        return db.Customers.Where(c =>
            db.CustomerPermissions.Any(p => p.CustomerId == c.Id && p.UserId == me)
            || db.ProjectPermissions.Any(p => p.Project.CustomerId == c.Id && p.UserId == me));
    }

    /// <summary>Projects the caller may see: a role in the project or in its organization.</summary>
    public IQueryable<Project> VisibleProjects()
    {
        if (IsStaff)
        {
            return db.Projects;
        }
        var me = UserId;
        return db.Projects.Where(pr =>
            db.CustomerPermissions.Any(p => p.CustomerId == pr.CustomerId && p.UserId == me)
            || db.ProjectPermissions.Any(p => p.ProjectId == pr.Id && p.UserId == me));
    }

    public async Task<bool> HasCustomerPermissionAsync(Guid customerId, string permission, CancellationToken ct)
    {
        if (IsStaff)
        {
            return true;
        }
        var me = UserId;
        var roles = await db.CustomerPermissions.Where(p => p.CustomerId == customerId && p.UserId == me).Select(p => p.Role).ToListAsync(ct);
        return roles.Any(r => RolePermissions.Customer[r].Contains(permission));
    }

    public async Task<bool> HasProjectPermissionAsync(Guid projectId, string permission, CancellationToken ct)
    {
        if (IsStaff)
        {
            return true;
        }
        var me = UserId;
        var customerId = await db.Projects.Where(p => p.Id == projectId).Select(p => (Guid?)p.CustomerId).FirstOrDefaultAsync(ct);
        if (customerId is null)
        {
            return false;
        }
        if (await HasCustomerPermissionAsync(customerId.Value, permission, ct))
        {
            return true;
        }
        var roles = await db.ProjectPermissions.Where(p => p.ProjectId == projectId && p.UserId == me).Select(p => p.Role).ToListAsync(ct);
        return roles.Any(r => RolePermissions.Project[r].Contains(permission));
    }
}
