using Cmp.Flows.Documents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>
/// A file for a File node as the caller received it: a multipart field for the API, a chosen file for the page.
/// <see cref="ReadAsync"/> is called only once the upload passed the checks, so a refused file is never read.
/// </summary>
public sealed record FileUpload(string? NodeId, string? FileName, string? ContentType, long Length, Func<CancellationToken, Task<byte[]>> ReadAsync);

/// <summary>The files of File nodes, kept per flow version.</summary>
public static class FileOperations
{
    public const long MaxFileBytes = 10 * 1024 * 1024;

    public static async Task<Outcome<IReadOnlyList<AgentFileDto>>> ListAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct)
    {
        var found = await AgentOperations.GetAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<IReadOnlyList<AgentFileDto>>.Fail(found.Problem!);
        }
        var agentId = found.Value!.Id;
        var files = await db.AgentFiles.AsNoTracking().Where(f => f.AgentId == agentId)
            .Join(db.FlowVersions, f => f.FlowVersionId, v => v.Id, (f, v) => new { f.Id, f.NodeId, f.FileName, f.ContentType, f.Size, v.Number, f.CreatedAt })
            .OrderByDescending(f => f.Number).ThenBy(f => f.CreatedAt).ToListAsync(ct);
        return files.Select(f => new AgentFileDto(f.Id.Hex(), f.NodeId, f.FileName, f.ContentType, f.Size, f.Number, f.CreatedAt)).ToList();
    }

    /// <summary>The File nodes of the agent's current flow version (empty before an import).</summary>
    public static async Task<IReadOnlyList<string>> FileNodesAsync(CmpDbContext db, ProviderAgent agent, CancellationToken ct) =>
        agent.CurrentFlowVersionId is { } id
            ? StoredSummary.Read(await db.FlowVersions.Where(v => v.Id == id).Select(v => v.Summary).FirstAsync(ct)).FileNodes
            : [];

    /// <summary>
    /// Keeps a file for a File node of the current version. <paramref name="upload"/> reads the caller's input (null
    /// with the problem when there is none usable); it runs after the caller is known to manage the agent.
    /// </summary>
    public static async Task<Outcome<AgentFileDto>> UploadAsync(
        CmpDbContext db, Access access, string uuid, Func<CancellationToken, Task<Outcome<FileUpload>>> upload, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<AgentFileDto>.Fail(found.Problem!);
        }
        var agent = found.Value!;
        var input = await upload(ct);
        if (!input.Ok)
        {
            return Outcome<AgentFileDto>.Fail(input.Problem!);
        }
        var file = input.Value!;
        var nodeId = file.NodeId;
        if (agent.CurrentFlowVersionId is not { } versionId)
        {
            return Problems.Conflict("Import a flow first: files belong to its File nodes.");
        }
        var version = await db.FlowVersions.AsNoTracking().FirstAsync(v => v.Id == versionId, ct);
        var fileNodes = StoredSummary.Read(version.Summary).FileNodes;
        var errors = new FieldErrors();
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
        if (file.FileName is null || file.Length == 0)
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
        var content = await file.ReadAsync(ct);
        var fileName = Path.GetFileName(file.FileName!);
        if (!DocumentText.LooksLike(fileName, content))
        {
            return Problems.Validation("file", $"The content of '{fileName}' does not match its extension.");
        }
        var row = new AgentFile
        {
            AgentId = agent.Id,
            FlowVersionId = versionId,
            NodeId = nodeId!,
            FileName = fileName.Length > 255 ? fileName[^255..] : fileName,
            ContentType = string.IsNullOrEmpty(file.ContentType) ? "application/octet-stream" : file.ContentType[..Math.Min(100, file.ContentType.Length)],
            Size = content.Length,
            Content = content,
        };
        db.AgentFiles.Add(row);
        await db.SaveChangesAsync(ct);
        return new AgentFileDto(row.Id.Hex(), row.NodeId, row.FileName, row.ContentType, row.Size, version.Number, row.CreatedAt);
    }
}
