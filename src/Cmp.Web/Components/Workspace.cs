using System.Security.Claims;
using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Components;

/// <summary>An organization the signed-in user belongs to, as the switcher lists it.</summary>
public sealed record OrganizationChoice(Guid Id, string Name, CustomerRole? Role, Guid? ProviderId, ServiceProviderState? ProviderState);

/// <summary>
/// Who is using the console and in which organization: loaded once per circuit by the console layout and
/// cascaded to every page. The organization is the switcher's last choice if the user still belongs to it,
/// else their first (staff see every organization but only switch among their own and the one they open).
/// </summary>
public sealed class Workspace
{
    public required ClaimsPrincipal User { get; init; }

    public Guid UserId => User.UserId();

    public bool IsStaff => User.IsStaff();

    public string DisplayName => User.FindFirstValue(ClaimTypes.Name) ?? User.FindFirstValue(ClaimTypes.Email) ?? "";

    public required IReadOnlyList<OrganizationChoice> Organizations { get; init; }

    public OrganizationChoice? Organization { get; init; }

    public static async Task<Workspace> LoadAsync(CmpDbContext db, ClaimsPrincipal user, string? chosen, CancellationToken ct)
    {
        var me = user.UserId();
        var roles = await db.CustomerPermissions.AsNoTracking().Where(p => p.UserId == me)
            .Select(p => new { p.CustomerId, p.Role }).ToListAsync(ct);
        var viaProjects = await db.ProjectPermissions.AsNoTracking().Where(p => p.UserId == me)
            .Select(p => p.Project.CustomerId).ToListAsync(ct);
        var ids = roles.Select(r => r.CustomerId).Concat(viaProjects).Distinct().ToList();
        var orgs = await db.Customers.AsNoTracking().Where(c => ids.Contains(c.Id)).OrderBy(c => c.Name)
            .Select(c => new
            {
                c.Id,
                c.Name,
                Provider = db.ServiceProviders.Where(s => s.CustomerId == c.Id).Select(s => new { s.Id, s.State }).FirstOrDefault(),
            })
            .ToListAsync(ct);
        var choices = orgs.Select(o => new OrganizationChoice(
            o.Id, o.Name, roles.FirstOrDefault(r => r.CustomerId == o.Id)?.Role, o.Provider?.Id, o.Provider?.State)).ToList();
        var selected = Guid.TryParseExact(chosen, "N", out var id) ? choices.FirstOrDefault(c => c.Id == id) : null;
        return new Workspace { User = user, Organizations = choices, Organization = selected ?? choices.FirstOrDefault() };
    }
}
