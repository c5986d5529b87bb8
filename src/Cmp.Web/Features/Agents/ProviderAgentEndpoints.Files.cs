using System.Text.Json;
using Cmp.Flows.Documents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

// The files of File nodes, per flow version.
public static partial class ProviderAgentEndpoints
{
    // ---- Files --------------------------------------------------------------------------

    private static async Task<Results<Ok<List<AgentFileDto>>, ProblemHttpResult>> ListFilesAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        var files = await db.AgentFiles.AsNoTracking().Where(f => f.AgentId == agent.Id)
            .Join(db.FlowVersions, f => f.FlowVersionId, v => v.Id, (f, v) => new { f.Id, f.NodeId, f.FileName, f.ContentType, f.Size, v.Number, f.CreatedAt })
            .OrderByDescending(f => f.Number).ThenBy(f => f.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok(files.Select(f => new AgentFileDto(f.Id.Hex(), f.NodeId, f.FileName, f.ContentType, f.Size, f.Number, f.CreatedAt)).ToList());
    }

    private static async Task<Results<Created<AgentFileDto>, ProblemHttpResult>> UploadFileAsync(
        string uuid, HttpRequest request, CmpDbContext db, Access access, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        if (!request.HasFormContentType)
        {
            return Problems.Validation("file", "Send multipart/form-data with the fields node_id and file.");
        }
        var form = await request.ReadFormAsync(ct);
        var errors = new FieldErrors();
        var nodeId = form["node_id"].ToString();
        var file = form.Files["file"];
        if (agent.CurrentFlowVersionId is not { } versionId)
        {
            return Problems.Conflict("Import a flow first: files belong to its File nodes.");
        }
        var version = await db.FlowVersions.AsNoTracking().FirstAsync(v => v.Id == versionId, ct);
        var fileNodes = JsonSerializer.Deserialize<JsonElement>(version.Summary).GetProperty("file_nodes").EnumerateArray().Select(e => e.GetString()).ToList();
        if (string.IsNullOrWhiteSpace(nodeId))
        {
            errors.Add("node_id", "This field is required.");
        }
        else if (!fileNodes.Contains(nodeId))
        {
            errors.Add("node_id", fileNodes.Count == 0
                ? "The current flow version has no File node."
                : $"Not a File node of the current flow version; File nodes: {string.Join(", ", fileNodes)}.");
        }
        if (file is null || file.Length == 0)
        {
            errors.Add("file", "This field is required.");
        }
        else if (file.Length > MaxFileBytes)
        {
            errors.Add("file", "The file is larger than 10 MB.");
        }
        else if (!DocumentText.SupportedExtensions.Contains(Path.GetExtension(file.FileName)))
        {
            errors.Add("file", $"Unsupported file type; use one of {string.Join(", ", DocumentText.SupportedExtensions.Order())}.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        using var buffer = new MemoryStream();
        await file!.CopyToAsync(buffer, ct);
        var content = buffer.ToArray();
        var fileName = Path.GetFileName(file.FileName);
        if (!DocumentText.LooksLike(fileName, content))
        {
            return Problems.Validation("file", $"The content of '{fileName}' does not match its extension.");
        }
        var row = new AgentFile
        {
            AgentId = agent.Id,
            FlowVersionId = versionId,
            NodeId = nodeId,
            FileName = fileName.Length > 255 ? fileName[^255..] : fileName,
            ContentType = string.IsNullOrEmpty(file.ContentType) ? "application/octet-stream" : file.ContentType[..Math.Min(100, file.ContentType.Length)],
            Size = content.Length,
            Content = content,
        };
        db.AgentFiles.Add(row);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/provider-agents/{agent.Id:N}/files/", new AgentFileDto(row.Id.Hex(), row.NodeId, row.FileName, row.ContentType, row.Size, version.Number, row.CreatedAt));
    }
}
