using Cmp.Flows.Runtime;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>The seller's test chat: the current version answers, in a conversation of its own (never a buyer's).</summary>
public static class TestChatOperations
{
    public static async Task<Outcome<InvokeResponse>> InvokeAsync(
        CmpDbContext db, Access access, AgentSecrets secrets, IAgentRuntime runtime, string uuid, TestInvokeRequest body, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<InvokeResponse>.Fail(found.Problem!);
        }
        var agent = found.Value!;
        var errors = new FieldErrors();
        var input = errors.Text("input", body.Input, 10000, required: true);
        var session = errors.Text("session_id", body.SessionId, 200);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (agent.RuntimeState != RuntimeState.Ready || agent.CurrentFlowVersionId is not { } versionId)
        {
            return Problems.Conflict($"The agent's runtime is {agent.RuntimeState.Screaming()}, not READY{(agent.RuntimeError is null ? "" : ": " + agent.RuntimeError)}.", ProblemTypes.RuntimeNotReady);
        }
        var version = await db.FlowVersions.AsNoTracking().FirstAsync(v => v.Id == versionId, ct);
        var sessionId = string.IsNullOrEmpty(session) ? Guid.NewGuid().ToString("N") : session;
        var memory = new DbConversationMemory(db, "test:" + agent.Id.ToString("N"));
        var files = await FilesAsync(db, versionId, ct);
        var context = new AgentVersionContext(agent.Id, versionId, version.Json, version.RemoteFlowId, await secrets.ReadAsync(agent.Id, ct));
        try
        {
            FlowRunResult? result = null;
            await foreach (var e in runtime.InvokeAsync(context, new InvokeRequest(input!, sessionId, memory, files, null), ct))
            {
                if (e is FlowCompletedEvent done)
                {
                    result = done.Result;
                }
            }
            await memory.AppendAsync(sessionId, result!.NewMessages, ct);
            await db.SaveChangesAsync(ct);
            return new InvokeResponse(result.Output, sessionId, Guid.CreateVersion7().ToString("N"),
                new UsageDto(result.Usage.InputTokens, result.Usage.OutputTokens, (long)result.Elapsed.TotalMilliseconds));
        }
        catch (FlowRunException ex)
        {
            var problem = new ProblemDetails { Status = 422, Type = ProblemTypes.RunFailed, Title = "The agent could not answer.", Detail = ex.Message };
            problem.Extensions["node_id"] = ex.NodeId;
            problem.Extensions["component"] = ex.Component;
            return Outcome<InvokeResponse>.Fail(problem);
        }
    }

    /// <summary>The files of a version's File nodes, as the runtime reads them.</summary>
    internal static async Task<IFlowFileProvider> FilesAsync(CmpDbContext db, Guid versionId, CancellationToken ct)
    {
        var files = await db.AgentFiles.AsNoTracking().Where(f => f.FlowVersionId == versionId).OrderBy(f => f.CreatedAt).ToListAsync(ct);
        return new DictionaryFileProvider(files.GroupBy(f => f.NodeId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<FlowFile>)g.Select(f => new FlowFile(f.FileName, f.Content)).ToList()));
    }
}
