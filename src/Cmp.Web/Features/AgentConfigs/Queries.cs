using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.AgentConfigs;

/// <summary>What other features may ask of agent configs: the ones a user sees (tenancy in the query; another tenant's is not found).</summary>
internal static class AgentConfigQueries
{
    public static IQueryable<CustomerAgentConfig> Visible(CmpDbContext db, Access access)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        return access.IsStaff ? db.AgentConfigs : db.AgentConfigs.Where(c => customers.Contains(c.CustomerId));
    }

    /// <summary>The config with this uuid and its resource, when the user may see it; else null.</summary>
    public static async Task<CustomerAgentConfig?> FindAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await Visible(db, access).Include(c => c.Resource).FirstOrDefaultAsync(c => c.Id == id, ct) : null;
}
