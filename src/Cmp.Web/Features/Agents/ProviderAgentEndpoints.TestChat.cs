using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Agents;

// The seller's test chat (the rules: TestChatOperations).
public static partial class ProviderAgentEndpoints
{
    // ---- Test chat ----------------------------------------------------------------------

    private static async Task<Results<Ok<InvokeResponse>, ProblemHttpResult>> TestInvokeAsync(
        string uuid, TestInvokeRequest body, CmpDbContext db, Access access, AgentSecrets secrets, IAgentRuntime runtime, CancellationToken ct)
    {
        var outcome = await TestChatOperations.InvokeAsync(db, access, secrets, runtime, uuid, body, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }
}
