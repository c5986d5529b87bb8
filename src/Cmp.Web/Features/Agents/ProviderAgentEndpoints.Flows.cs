using System.Security.Cryptography;
using System.Text.Json;
using Cmp.Flows.Checks;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

// Flow import, validation and versions.
public static partial class ProviderAgentEndpoints
{
    // ---- Flows --------------------------------------------------------------------------

    /// <summary>The export from a JSON body or a multipart <c>file</c>; null with a problem when neither is usable.</summary>
    private static async Task<(byte[]? Bytes, ProblemHttpResult? Problem)> ReadExportAsync(HttpRequest request, CancellationToken ct)
    {
        var limit = FlowParser.MaxBytes;
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(ct);
            var file = form.Files["file"];
            if (file is null)
            {
                return (null, Problems.Validation("file", "Send the Langflow export as the multipart field 'file', or as a JSON body."));
            }
            if (file.Length > limit)
            {
                return (null, InvalidFlow([new FlowProblem(null, null, $"The export is {file.Length / 1024 / 1024.0:0.0} MB; the limit is 5 MB.")]));
            }
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, ct);
            return (buffer.ToArray(), null);
        }
        using var body = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            body.Write(chunk, 0, read);
            if (body.Length > limit)
            {
                return (null, InvalidFlow([new FlowProblem(null, null, "The export is larger than 5 MB, the limit.")]));
            }
        }
        return body.Length == 0
            ? (null, Problems.Validation("file", "The request has no Langflow export: send it as a JSON body or the multipart field 'file'."))
            : (body.ToArray(), null);
    }

    internal sealed record ProblemItem(string? NodeId, string? Component, string Message);

    private static ProblemHttpResult InvalidFlow(IReadOnlyList<FlowProblem> problems)
    {
        var details = new ProblemDetails
        {
            Status = 400,
            Type = ProblemTypes.InvalidFlow,
            Title = "The flow cannot run on CMP.",
            Detail = $"{problems.Count} problem{(problems.Count == 1 ? "" : "s")}: " + string.Join(" ", problems.Select(p => p.NodeId is null ? p.Message : $"{p.NodeId} ({p.Component}): {p.Message}")),
        };
        details.Extensions["problems"] = problems.Select(p => new ProblemItem(p.NodeId, p.Component, p.Message)).ToList();
        return TypedResults.Problem(details);
    }

    private static object SummaryJson(FlowSummary s) => new
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

    private static async Task<Results<Ok<object>, ProblemHttpResult>> ValidateFlowAsync(
        string uuid, HttpRequest request, CmpDbContext db, Access access, FlowRuntime runtime, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var (bytes, problem) = await ReadExportAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        var report = FlowChecker.Check(bytes!);
        return report.Runnable
            ? TypedResults.Ok<object>(new { runnable = true, summary = SummaryJson(FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel)) })
            : InvalidFlow(report.Problems);
    }

    private static async Task<Results<Created<ImportResponse>, ProblemHttpResult>> ImportFlowAsync(
        string uuid, HttpRequest request, HttpContext ctx, CmpDbContext db, Access access, FlowRuntime runtime, DeploymentQueue queue, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent takes no new flow versions.", ProblemTypes.InvalidTransition);
        }
        var (bytes, problem) = await ReadExportAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        var report = FlowChecker.Check(bytes!);
        if (!report.Runnable)
        {
            return InvalidFlow(report.Problems);
        }
        var summary = FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel);
        var previous = agent.CurrentFlowVersionId;
        var number = await db.FlowVersions.Where(v => v.AgentId == agent.Id).MaxAsync(v => (int?)v.Number, ct) ?? 0;
        var version = new FlowVersion
        {
            AgentId = agent.Id,
            Number = number + 1,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes!)),
            Json = System.Text.Encoding.UTF8.GetString(bytes!),
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
        var dto = await DtoAsync(agent, db, ctx, ct);
        return TypedResults.Created(dto.Url, new ImportResponse(dto, version.ToDto(), SummaryJson(summary)));
    }
}
