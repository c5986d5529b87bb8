using System.Text.Json;
using System.Text.RegularExpressions;
using Cmp.Flows.Runtime;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

// Write-only secrets of the agent.
public static partial class ProviderAgentEndpoints
{
    // ---- Secrets ------------------------------------------------------------------------

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
    private static partial Regex VariableName();

    private static async Task<SecretsDto> SecretsStateAsync(ProviderAgent agent, CmpDbContext db, AgentSecrets secrets, FlowRuntime runtime, CancellationToken ct)
    {
        var set = await secrets.NamesAsync(agent.Id, ct);
        var required = new List<string>();
        if (agent.CurrentFlowVersionId is { } versionId)
        {
            var summary = JsonSerializer.Deserialize<JsonElement>(await db.FlowVersions.Where(v => v.Id == versionId).Select(v => v.Summary).FirstAsync(ct));
            required = summary.GetProperty("variables").EnumerateArray().Select(e => e.GetString()!).ToList();
        }
        return new SecretsDto(set, required, required.Except(set).ToList());
    }

    private static async Task<Results<Ok<SecretsDto>, ProblemHttpResult>> GetSecretsAsync(
        string uuid, CmpDbContext db, Access access, AgentSecrets secrets, FlowRuntime runtime, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        return TypedResults.Ok(await SecretsStateAsync(agent, db, secrets, runtime, ct));
    }

    private static async Task<Results<Ok<SecretsDto>, ProblemHttpResult>> PutSecretsAsync(
        string uuid, Dictionary<string, JsonElement> body, CmpDbContext db, Access access, AgentSecrets secrets, FlowRuntime runtime,
        DeploymentQueue queue, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var errors = new FieldErrors();
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (body.Count is 0 or > 50)
        {
            errors.Add("non_field_errors", "Send between 1 and 50 variables as {\"NAME\": \"value\"}.");
        }
        foreach (var (name, value) in body)
        {
            if (!VariableName().IsMatch(name))
            {
                errors.Add(name, "A variable name is letters, digits and underscores, not starting with a digit, at most 100 characters.");
            }
            else if (value.ValueKind == JsonValueKind.Null)
            {
                values[name] = null;
            }
            else if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 and <= 10000 } text)
            {
                errors.Add(name, "The value must be a non-empty string of at most 10000 characters (null removes the variable).");
            }
            else
            {
                values[name] = text;
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        await secrets.WriteAsync(agent.Id, values, ct);
        var redeploy = agent.CurrentFlowVersionId is not null && agent.State != OfferingState.Archived;
        if (redeploy)
        {
            DeploymentQueue.MarkDeploying(agent);
        }
        await db.SaveChangesAsync(ct);
        if (redeploy)
        {
            queue.Enqueue(agent.Id);
        }
        return TypedResults.Ok(await SecretsStateAsync(agent, db, secrets, runtime, ct));
    }
}
