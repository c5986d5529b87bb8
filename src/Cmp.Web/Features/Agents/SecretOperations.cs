using System.Text.RegularExpressions;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>Write-only secrets of an agent: names in and out, values only in.</summary>
public static partial class SecretOperations
{
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
    private static partial Regex VariableName();

    /// <summary>Which variables are set, which the current flow version needs, and which of those are missing.</summary>
    public static async Task<SecretsDto> StateAsync(CmpDbContext db, ProviderAgent agent, AgentSecrets secrets, CancellationToken ct)
    {
        var set = await secrets.NamesAsync(agent.Id, ct);
        IReadOnlyList<string> required = [];
        if (agent.CurrentFlowVersionId is { } versionId)
        {
            required = StoredSummary.Read(await db.FlowVersions.Where(v => v.Id == versionId).Select(v => v.Summary).FirstAsync(ct)).Variables;
        }
        return new SecretsDto(set, required, required.Except(set).ToList());
    }

    public static async Task<Outcome<SecretsDto>> GetAsync(CmpDbContext db, Access access, AgentSecrets secrets, string uuid, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        return found.Ok ? await StateAsync(db, found.Value!, secrets, ct) : Outcome<SecretsDto>.Fail(found.Problem!);
    }

    /// <summary>
    /// Sets (a value) or removes (null) variables, in the order given, and redeploys the current version so the
    /// runtime reads them. A value must be a non-empty string; the API passes any other JSON value as "".
    /// </summary>
    public static async Task<Outcome<SecretsDto>> PutAsync(
        CmpDbContext db, Access access, AgentSecrets secrets, DeploymentQueue queue, string uuid,
        IReadOnlyList<KeyValuePair<string, string?>> body, CancellationToken ct)
    {
        var found = await AgentOperations.GetManagedAsync(db, access, uuid, ct);
        if (!found.Ok)
        {
            return Outcome<SecretsDto>.Fail(found.Problem!);
        }
        var agent = found.Value!;
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
            else if (value is null)
            {
                values[name] = null;
            }
            else if (value is not { Length: > 0 and <= 10000 })
            {
                errors.Add(name, "The value must be a non-empty string of at most 10000 characters (null removes the variable).");
            }
            else
            {
                values[name] = value;
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
        return await StateAsync(db, agent, secrets, ct);
    }
}
