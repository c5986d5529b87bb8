using Cmp.Flows.Checks;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Agents;

// Flow import and validation (the rules: FlowOperations).
public static partial class ProviderAgentEndpoints
{
    // ---- Flows --------------------------------------------------------------------------

    /// <summary>The export from a JSON body or a multipart <c>file</c>; the problem when neither is usable.</summary>
    private static ExportReader ReadExport(HttpRequest request) => async ct =>
    {
        var limit = FlowParser.MaxBytes;
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(ct);
            var file = form.Files["file"];
            if (file is null)
            {
                return Problems.Validation("file", "Send the Langflow export as the multipart field 'file', or as a JSON body.");
            }
            if (file.Length > limit)
            {
                return Outcome<byte[]>.Fail(FlowOperations.TooLarge(file.Length));
            }
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, ct);
            return buffer.ToArray();
        }
        using var body = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            body.Write(chunk, 0, read);
            if (body.Length > limit)
            {
                return Outcome<byte[]>.Fail(FlowOperations.InvalidFlow([new FlowProblem(null, null, "The export is larger than 5 MB, the limit.")]));
            }
        }
        return body.Length == 0
            ? Problems.Validation("file", "The request has no Langflow export: send it as a JSON body or the multipart field 'file'.")
            : body.ToArray();
    };

    private static async Task<Results<Ok<object>, ProblemHttpResult>> ValidateFlowAsync(
        string uuid, HttpRequest request, CmpDbContext db, Access access, FlowRuntime runtime, CancellationToken ct)
    {
        var outcome = await FlowOperations.ValidateAsync(db, access, uuid, ReadExport(request), runtime, ct);
        return outcome.Ok ? TypedResults.Ok<object>(new { runnable = true, summary = outcome.Value!.Summary }) : outcome.ToProblemResult();
    }

    private static async Task<Results<Created<ImportResponse>, ProblemHttpResult>> ImportFlowAsync(
        string uuid, HttpRequest request, HttpContext ctx, CmpDbContext db, Access access, FlowRuntime runtime, DeploymentQueue queue, CancellationToken ct)
    {
        var outcome = await FlowOperations.ImportAsync(db, access, uuid, ReadExport(request), runtime, queue, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var (agent, version, summary) = outcome.Value!;
        var dto = await DtoAsync(agent, db, ctx, ct);
        return TypedResults.Created(dto.Url, new ImportResponse(dto, version.ToDto(), summary));
    }
}
