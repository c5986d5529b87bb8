using System.Text.Json;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Agents;

// Write-only secrets of the agent (the rules: SecretOperations).
public static partial class ProviderAgentEndpoints
{
    // ---- Secrets ------------------------------------------------------------------------

    private static async Task<Results<Ok<SecretsDto>, ProblemHttpResult>> GetSecretsAsync(
        string uuid, CmpDbContext db, Access access, AgentSecrets secrets, CancellationToken ct)
    {
        var outcome = await SecretOperations.GetAsync(db, access, secrets, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }

    private static async Task<Results<Ok<SecretsDto>, ProblemHttpResult>> PutSecretsAsync(
        string uuid, Dictionary<string, JsonElement> body, CmpDbContext db, Access access, AgentSecrets secrets, DeploymentQueue queue, CancellationToken ct)
    {
        // JSON null removes a variable; any value that is not a string is refused like an empty one.
        var values = body.Select(e => KeyValuePair.Create(e.Key, e.Value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => e.Value.GetString(),
            _ => "",
        })).ToList();
        var outcome = await SecretOperations.PutAsync(db, access, secrets, queue, uuid, values, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }
}
