using System.Security.Cryptography;
using System.Text.Json;
using Cmp.Flows.Checks;
using Cmp.Flows.Runtime;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>
/// Reads the Langflow export an operation needs, or the problem that refuses it (too large, missing). Read only once
/// the caller may manage the agent, so a stranger learns nothing from a malformed request: the endpoint passes the
/// request body, the Flow tab the chosen file.
/// </summary>
public delegate Task<Outcome<byte[]>> ExportReader(CancellationToken ct);

/// <summary>A flow the checker accepted: its summary (the seller's view of its shape).</summary>
public sealed record FlowValidation(object Summary);

/// <summary>An accepted import: the agent (now DEPLOYING), the new version and its summary.</summary>
public sealed record FlowImport(ProviderAgent Agent, FlowVersion Version, object Summary);

/// <summary>Flow import, validation and versions: the rules behind <c>import_flow/</c>, <c>validate_flow/</c> and the Flow tab.</summary>
public static class FlowOperations
{
    public sealed record ProblemItem(string? NodeId, string? Component, string Message);

    /// <summary>An export over the size limit, refused before it is read.</summary>
    public static ProblemDetails TooLarge(long bytes) =>
        InvalidFlow([new FlowProblem(null, null, $"The export is {bytes / 1024 / 1024.0:0.0} MB; the limit is 5 MB.")]);

    /// <summary>A 400 <c>invalid-flow</c> problem listing every problem with its node and component.</summary>
    public static ProblemDetails InvalidFlow(IReadOnlyList<FlowProblem> problems)
    {
        var details = new ProblemDetails
        {
            Status = 400,
            Type = ProblemTypes.InvalidFlow,
            Title = "The flow cannot run on CMP.",
            Detail = $"{problems.Count} problem{(problems.Count == 1 ? "" : "s")}: " + string.Join(" ", problems.Select(p => p.NodeId is null ? p.Message : $"{p.NodeId} ({p.Component}): {p.Message}")),
        };
        details.Extensions["problems"] = problems.Select(p => new ProblemItem(p.NodeId, p.Component, p.Message)).ToList();
        return details;
    }

    /// <summary>The per-node problems an <c>invalid-flow</c> problem carries (empty for any other problem).</summary>
    public static IReadOnlyList<FlowProblem> ProblemsOf(ProblemDetails? problem) =>
        problem?.Type == ProblemTypes.InvalidFlow && problem.Extensions.TryGetValue("problems", out var items) && items is IEnumerable<ProblemItem> list
            ? list.Select(p => new FlowProblem(p.NodeId, p.Component, p.Message)).ToList()
            : [];

    public static object SummaryJson(FlowSummary s) => new
    {
        nodes = s.Nodes,
        edges = s.Edges,
        components = s.Components,
        inputs = s.Inputs.Select(p => new { node_id = p.NodeId, component = p.Component }),
        outputs = s.Outputs.Select(p => new { node_id = p.NodeId, component = p.Component }),
        prompt_variables = s.PromptVariables,
        variables = s.Variables,
        file_nodes = s.FileNodes,
    };

    /// <summary>Checks an export without keeping it.</summary>
    public static async Task<Outcome<FlowValidation>> ValidateAsync(
        CmpDbContext db, Access access, string uuid, ExportReader export, FlowRuntime runtime, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<FlowValidation>.Fail(found.Problem!);
        }
        var bytes = await export(ct);
        if (!bytes.Ok)
        {
            return Outcome<FlowValidation>.Fail(bytes.Problem!);
        }
        var report = FlowChecker.Check(bytes.Value!);
        return report.Runnable
            ? new FlowValidation(SummaryJson(FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel)))
            : Outcome<FlowValidation>.Fail(InvalidFlow(report.Problems));
    }

    /// <summary>
    /// Checks the export and keeps it as the agent's next version, which becomes current and starts deploying
    /// (the caller enqueues nothing: <paramref name="queue"/> gets the agent once the row is saved).
    /// </summary>
    public static async Task<Outcome<FlowImport>> ImportAsync(
        CmpDbContext db, Access access, string uuid, ExportReader export, FlowRuntime runtime, DeploymentQueue queue, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<FlowImport>.Fail(found.Problem!);
        }
        var agent = found.Value!;
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent takes no new flow versions.", ProblemTypes.InvalidTransition);
        }
        var read = await export(ct);
        if (!read.Ok)
        {
            return Outcome<FlowImport>.Fail(read.Problem!);
        }
        var bytes = read.Value!;
        var report = FlowChecker.Check(bytes);
        if (!report.Runnable)
        {
            return Outcome<FlowImport>.Fail(InvalidFlow(report.Problems));
        }
        var summary = FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel);
        var previous = agent.CurrentFlowVersionId;
        var number = await db.FlowVersions.Where(v => v.AgentId == agent.Id).MaxAsync(v => (int?)v.Number, ct) ?? 0;
        var version = new FlowVersion
        {
            AgentId = agent.Id,
            Number = number + 1,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            Json = System.Text.Encoding.UTF8.GetString(bytes),
            Summary = JsonSerializer.Serialize(SummaryJson(summary)),
            CreatedById = access.UserId,
        };
        db.FlowVersions.Add(version);
        // Files for File nodes that the new version still has come along; the old version keeps its own.
        if (previous is { } previousId && summary.FileNodes.Count > 0)
        {
            var carried = await db.AgentFiles.AsNoTracking().Where(f => f.FlowVersionId == previousId && summary.FileNodes.Contains(f.NodeId)).ToListAsync(ct);
            foreach (var f in carried)
            {
                db.AgentFiles.Add(new AgentFile { AgentId = agent.Id, FlowVersionId = version.Id, NodeId = f.NodeId, FileName = f.FileName, ContentType = f.ContentType, Size = f.Size, Content = f.Content });
            }
        }
        agent.CurrentFlowVersionId = version.Id;
        DeploymentQueue.MarkDeploying(agent);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict("Another import of this agent finished at the same time; try again.");
        }
        queue.Enqueue(agent.Id);
        return new FlowImport(agent, version, SummaryJson(summary));
    }

    /// <summary>The agent's versions, newest first, without their JSON.</summary>
    public static async Task<Outcome<IReadOnlyList<FlowVersionDto>>> VersionsAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        var found = await AgentOperations.GetAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<IReadOnlyList<FlowVersionDto>>.Fail(found.Problem!);
        }
        var agentId = found.Value!.Id;
        var rows = await db.FlowVersions.AsNoTracking().Where(v => v.AgentId == agentId).OrderByDescending(v => v.Number)
            .Select(v => new { v.Id, v.Number, v.Sha256, v.CreatedAt, v.CreatedById }).ToListAsync(ct);
        return rows.Select(v => new FlowVersionDto(v.Id.Hex(), v.Number, v.Sha256, v.CreatedAt, v.CreatedById.Hex())).ToList();
    }

    /// <summary>The export of the agent's current version (for its drawing), or null before the first import.</summary>
    public static async Task<string?> CurrentJsonAsync(CmpDbContext db, ProviderAgent agent, CancellationToken ct) =>
        agent.CurrentFlowVersionId is { } id ? await db.FlowVersions.AsNoTracking().Where(v => v.Id == id).Select(v => v.Json).FirstOrDefaultAsync(ct) : null;
}

/// <summary>The stored summary of a flow version, typed: the variables it needs and its File nodes.</summary>
public sealed record StoredSummary(IReadOnlyList<string> Variables, IReadOnlyList<string> FileNodes)
{
    public static StoredSummary Read(string json)
    {
        var root = JsonSerializer.Deserialize<JsonElement>(json);
        return new StoredSummary(Strings(root, "variables"), Strings(root, "file_nodes"));
    }

    private static List<string> Strings(JsonElement root, string name) =>
        root.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(e => e.GetString()).OfType<string>().ToList()
            : [];
}
