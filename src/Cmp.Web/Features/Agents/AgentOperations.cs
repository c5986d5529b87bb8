using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>Which agents a list shows: by provider, by offering state, by a search term (all optional).</summary>
public sealed record AgentFilter(string? ServiceProviderUuid = null, string? State = null, string? Search = null);

/// <summary>The agents a filter keeps, as a query still to order and page (an interface cannot convert to an outcome).</summary>
public sealed record AgentSelection(IQueryable<ProviderAgent> Agents);

/// <summary>An agent with what its page and its JSON show beside it: the current flow version and the plans.</summary>
public sealed record AgentDetails(ProviderAgent Agent, FlowVersion? Version, IReadOnlyList<Plan> Plans);

/// <summary>
/// The agent rules, written once for the API (<see cref="ProviderAgentEndpoints"/>) and the seller studio's pages:
/// who sees an agent (<see cref="AgentQueries"/>), who may create and change one, and what a change must satisfy.
/// </summary>
public static class AgentOperations
{
    /// <summary>The visible agents the filter keeps, unordered; a malformed filter is a validation problem.</summary>
    public static Outcome<AgentSelection> Query(CmpDbContext db, Access access, AgentFilter filter)
    {
        var agents = AgentQueries.Visible(db, access).AsNoTracking();
        if (filter.ServiceProviderUuid is not null)
        {
            if (!Refs.TryParse(filter.ServiceProviderUuid, out var pid))
            {
                return Problems.Validation("service_provider_uuid", "Enter a valid uuid.");
            }
            agents = agents.Where(a => a.ServiceProviderId == pid);
        }
        if (filter.State is not null)
        {
            if (!WireNames.TryParseScreaming<OfferingState>(filter.State, out var parsed))
            {
                return Problems.Validation("state", "Choose one of: DRAFT, ACTIVE, PAUSED, ARCHIVED.");
            }
            agents = agents.Where(a => a.State == parsed);
        }
        if (filter.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            agents = agents.Where(a => a.Name.ToLower().Contains(t) || a.Description.ToLower().Contains(t));
        }
        return new AgentSelection(agents);
    }

    /// <summary>The agent if the caller sees it, else 404 (another organization's agent is simply not there).</summary>
    public static async Task<Outcome<ProviderAgent>> GetAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct) =>
        await AgentQueries.FindAsync(uuid, db, access, ct) is { } agent ? agent : Problems.NotFound("agent");

    /// <summary>The agent if the caller may manage it; 404 when not visible, 403 when only visible.</summary>
    public static async Task<Outcome<ProviderAgent>> GetManagedAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        var (agent, refused) = await AgentQueries.FindManagedAsync(uuid, db, access, ct);
        return agent is null ? refused! : agent;
    }

    /// <summary>Whether the caller may manage the organization's agents (create, import, publish…): the same check the API makes.</summary>
    public static Task<bool> CanManageOrganizationAsync(Access access, Guid customerId, CancellationToken ct) =>
        access.HasCustomerPermissionAsync(customerId, Permission.ManageOfferings, ct);

    public static async Task<AgentDetails> DetailsAsync(CmpDbContext db, ProviderAgent agent, CancellationToken ct)
    {
        var version = agent.CurrentFlowVersionId is { } v ? await db.FlowVersions.AsNoTracking().FirstOrDefaultAsync(x => x.Id == v, ct) : null;
        var plans = await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => p.AgentId == agent.Id).ToListAsync(ct);
        return new AgentDetails(agent, version, plans);
    }

    public static async Task<Outcome<ProviderAgent>> CreateAsync(CmpDbContext db, Access access, AgentCreateRequest body, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: true);
        var description = errors.Text("description", body.Description, 4000);
        var category = ParseCategory(body.Category, errors, required: true);
        MarketplaceProvider? provider = null;
        if (string.IsNullOrWhiteSpace(body.ServiceProvider))
        {
            errors.Add("service_provider", "This field is required.");
        }
        else
        {
            provider = Refs.TryParse(body.ServiceProvider, out var pid)
                ? await ProviderEndpoints.Visible(db, access).FirstOrDefaultAsync(p => p.Id == pid, ct)
                : null;
            if (provider is null)
            {
                errors.Add("service_provider", "No service provider with this uuid is visible to you.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (!await access.HasCustomerPermissionAsync(provider!.CustomerId, Permission.ManageOfferings, ct))
        {
            return AgentQueries.CannotManage();
        }
        var agent = new ProviderAgent
        {
            ServiceProviderId = provider.Id,
            Name = name!,
            Description = description ?? "",
            Category = category!.Value,
            RequiresProviderApproval = body.RequiresProviderApproval ?? false,
        };
        db.ProviderAgents.Add(agent);
        await db.SaveChangesAsync(ct);
        return agent;
    }

    public static async Task<Outcome<ProviderAgent>> UpdateAsync(CmpDbContext db, Access access, string uuid, AgentPatchRequest body, CancellationToken ct)
    {
        var found = await GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return found;
        }
        var agent = found.Value!;
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: body.Name is not null);
        var description = errors.Text("description", body.Description, 4000);
        var category = ParseCategory(body.Category, errors, required: false);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent cannot change.", ProblemTypes.InvalidTransition);
        }
        agent.Name = name ?? agent.Name;
        agent.Description = description ?? agent.Description;
        agent.Category = category ?? agent.Category;
        agent.RequiresProviderApproval = body.RequiresProviderApproval ?? agent.RequiresProviderApproval;
        await db.SaveChangesAsync(ct);
        return agent;
    }

    /// <summary>Only a draft that never took an order may vanish; anything else is archived instead.</summary>
    public static async Task<Outcome<Done>> DeleteAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        var found = await GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<Done>.Fail(found.Problem!);
        }
        var agent = found.Value!;
        var deleted = await db.ProviderAgents.Where(a => a.Id == agent.Id && a.State == OfferingState.Draft).ExecuteDeleteAsync(ct);
        return deleted == 1
            ? Done.Value
            : Problems.Conflict($"Only a DRAFT agent can be deleted; this one is {agent.State.Screaming()}. Archive it instead.", ProblemTypes.InvalidTransition);
    }

    private static AgentCategory? ParseCategory(string? value, FieldErrors errors, bool required)
    {
        if (value is null)
        {
            if (required)
            {
                errors.Add("category", "This field is required.");
            }
            return null;
        }
        var name = Enum.GetNames<AgentCategory>().FirstOrDefault(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase));
        if (name is null)
        {
            errors.Add("category", "Choose one of: Agents, Apps, Assistants, Automations.");
            return null;
        }
        return Enum.Parse<AgentCategory>(name);
    }
}
