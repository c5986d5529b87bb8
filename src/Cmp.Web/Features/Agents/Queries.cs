using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>What other features may ask of provider agents: the ones a user sees, and whether they may manage one.</summary>
internal static class AgentQueries
{
    /// <summary>Agents of the providers whose organization the caller can see; anything else is not found.</summary>
    public static IQueryable<ProviderAgent> Visible(CmpDbContext db, Access access)
    {
        var providers = ProviderEndpoints.Visible(db, access).Select(p => p.Id);
        return db.ProviderAgents.Where(a => providers.Contains(a.ServiceProviderId));
    }

    public static async Task<ProviderAgent?> FindAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await Visible(db, access).Include(a => a.ServiceProvider).FirstOrDefaultAsync(a => a.Id == id, ct) : null;

    public static Task<bool> CanManageAsync(ProviderAgent agent, Access access, CancellationToken ct) =>
        access.HasCustomerPermissionAsync(agent.ServiceProvider.CustomerId, Permission.ManageOfferings, ct);

    /// <summary>The agent when the caller may manage it; otherwise the refusal (404 when it is not visible, 403 when only visible).</summary>
    public static async Task<(ProviderAgent? Agent, ProblemHttpResult? Problem)> FindManagedAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return (null, Problems.NotFound("agent"));
        }
        return await CanManageAsync(agent, access, ct) ? (agent, null) : (null, CannotManage());
    }

    public static ProblemHttpResult CannotManage() =>
        Problems.Forbidden($"Managing the provider's agents needs {Permission.ManageOfferings} on its organization (its owners hold it).");
}
