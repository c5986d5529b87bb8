using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

public sealed record OrganizationMembership(Guid CustomerId, string CustomerName, CustomerRole Role);
public sealed record ProjectMembership(Guid ProjectId, string ProjectName, Guid CustomerId, string CustomerName, ProjectRole Role);

/// <summary>A user with the roles they hold: <c>GET /api/users/me/</c> and the account page.</summary>
public sealed record Profile(User User, IReadOnlyList<OrganizationMembership> Organizations, IReadOnlyList<ProjectMembership> Projects);

public static class Profiles
{
    /// <summary>The user and their memberships (organizations and projects by name), or null for an unknown id.</summary>
    public static async Task<Profile?> LoadAsync(CmpDbContext db, Guid userId, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null)
        {
            return null;
        }
        var customers = await db.CustomerPermissions.AsNoTracking().Where(p => p.UserId == userId)
            .OrderBy(p => p.Customer.Name)
            .Select(p => new OrganizationMembership(p.CustomerId, p.Customer.Name, p.Role)).ToListAsync(ct);
        var projects = await db.ProjectPermissions.AsNoTracking().Where(p => p.UserId == userId)
            .OrderBy(p => p.Project.Name)
            .Select(p => new ProjectMembership(p.ProjectId, p.Project.Name, p.Project.CustomerId, p.Project.Customer.Name, p.Role)).ToListAsync(ct);
        return new Profile(user, customers, projects);
    }
}
