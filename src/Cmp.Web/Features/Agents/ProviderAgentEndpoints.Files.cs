using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Agents;

// The files of File nodes, per flow version (the rules: FileOperations).
public static partial class ProviderAgentEndpoints
{
    // ---- Files --------------------------------------------------------------------------

    private static async Task<Results<Ok<List<AgentFileDto>>, ProblemHttpResult>> ListFilesAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await FileOperations.ListAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!.ToList()) : outcome.ToProblemResult();
    }

    private static async Task<Results<Created<AgentFileDto>, ProblemHttpResult>> UploadFileAsync(
        string uuid, HttpRequest request, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await FileOperations.UploadAsync(db, access, uuid, async ct =>
        {
            if (!request.HasFormContentType)
            {
                return Problems.Validation("file", "Send multipart/form-data with the fields node_id and file.");
            }
            var form = await request.ReadFormAsync(ct);
            var file = form.Files["file"];
            return new FileUpload(form["node_id"].ToString(), file?.FileName, file?.ContentType, file?.Length ?? 0, async ct =>
            {
                using var buffer = new MemoryStream();
                await file!.CopyToAsync(buffer, ct);
                return buffer.ToArray();
            });
        }, ct);
        // Found means the uuid parsed: it is the agent's id.
        return outcome.Ok && Refs.TryParse(uuid, out var agentId)
            ? TypedResults.Created($"/api/provider-agents/{agentId:N}/files/", outcome.Value!)
            : outcome.ToProblemResult();
    }
}
