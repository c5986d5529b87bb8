using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>The offering's state machine (<see cref="OfferingState"/>): publish, pause, archive.</summary>
public static class AgentStateOperations
{
    /// <summary>States each action may start from, for the page to show only the actions the API would take.</summary>
    public static readonly OfferingState[] PublishFrom = [OfferingState.Draft, OfferingState.Paused];
    public static readonly OfferingState[] PauseFrom = [OfferingState.Active];
    public static readonly OfferingState[] ArchiveFrom = [OfferingState.Draft, OfferingState.Active, OfferingState.Paused];

    /// <summary>DRAFT or PAUSED → ACTIVE; needs an active provider, a READY runtime and a plan (409 naming what is missing).</summary>
    public static async Task<Outcome<ProviderAgent>> PublishAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return found;
        }
        var agent = found.Value!;
        if (!PublishFrom.Contains(agent.State))
        {
            return Problems.Conflict($"Only a DRAFT or PAUSED agent can be published; this one is {agent.State.Screaming()}.", ProblemTypes.InvalidTransition);
        }
        var missing = new List<string>();
        if (agent.ServiceProvider.State != ServiceProviderState.Active)
        {
            missing.Add("the service provider is pending staff approval");
        }
        if (agent.RuntimeState != RuntimeState.Ready)
        {
            missing.Add($"a READY runtime (it is {agent.RuntimeState.Screaming()}{(agent.RuntimeError is null ? "" : ": " + agent.RuntimeError)})");
        }
        if (!await db.Plans.AnyAsync(p => p.AgentId == agent.Id && p.ArchivedAt == null, ct))
        {
            missing.Add("at least one plan");
        }
        if (missing.Count > 0)
        {
            var problem = new ProblemDetails
            {
                Status = 409,
                Type = agent.ServiceProvider.State != ServiceProviderState.Active ? ProblemTypes.ProviderPending : ProblemTypes.PublishRequirements,
                Title = "The agent cannot be published yet.",
                Detail = "Publishing needs " + string.Join(", and ", missing) + ".",
            };
            problem.Extensions["missing"] = missing;
            return Outcome<ProviderAgent>.Fail(problem);
        }
        return await MoveAsync(db, agent, PublishFrom, OfferingState.Active, ct, requireReady: true);
    }

    /// <summary>ACTIVE → PAUSED: hidden from the catalog, existing buyers refused until published again.</summary>
    public static Task<Outcome<ProviderAgent>> PauseAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct) =>
        FindAndMoveAsync(db, access, uuid, PauseFrom, OfferingState.Paused, ct);

    /// <summary>DRAFT, ACTIVE or PAUSED → ARCHIVED, for good.</summary>
    public static Task<Outcome<ProviderAgent>> ArchiveAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct) =>
        FindAndMoveAsync(db, access, uuid, ArchiveFrom, OfferingState.Archived, ct);

    private static async Task<Outcome<ProviderAgent>> FindAndMoveAsync(
        CmpDbContext db, Access access, string uuid, OfferingState[] from, OfferingState to, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        return found.Ok ? await MoveAsync(db, found.Value!, from, to, ct) : found;
    }

    /// <summary>A guarded transition: one UPDATE whose WHERE names the allowed states; no row changed is a 409, never ignored.</summary>
    private static async Task<Outcome<ProviderAgent>> MoveAsync(
        CmpDbContext db, ProviderAgent agent, OfferingState[] from, OfferingState to, CancellationToken ct, bool requireReady = false)
    {
        var moved = await db.ProviderAgents
            .Where(a => a.Id == agent.Id && from.Contains(a.State) && (!requireReady || a.RuntimeState == RuntimeState.Ready))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.State, to).SetProperty(a => a.Version, Guid.NewGuid()), ct);
        if (moved != 1)
        {
            var now = await db.ProviderAgents.Where(a => a.Id == agent.Id).Select(a => a.State).FirstAsync(ct);
            return Problems.Conflict(
                $"Cannot move the agent from {now.Screaming()} to {to.Screaming()}; allowed from {string.Join(" or ", from.Select(f => f.Screaming()))}.",
                ProblemTypes.InvalidTransition);
        }
        await db.Entry(agent).ReloadAsync(ct);
        return agent;
    }
}
