using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Cmp.Flows.Checks;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>What a deployment or a run needs to know about one flow version of one agent.</summary>
public sealed record AgentVersionContext(Guid AgentId, Guid FlowVersionId, string FlowJson, string? RemoteFlowId, IReadOnlyDictionary<string, string> Secrets);

public sealed record DeployResult(bool Ok, string? Error, string? RemoteFlowId = null);

/// <summary>One turn to run: the host's memory, files and the buyer's persona as a system preamble.</summary>
public sealed record InvokeRequest(string Input, string SessionId, IConversationMemory Memory, IFlowFileProvider Files, string? SystemPreamble);

/// <summary>
/// Where agents run. The built-in runtime (Cmp.Flows, in process) is the default; a remote Langflow server
/// is used when <c>LANGFLOW_URL</c> is set. Both answer the same events.
/// </summary>
public interface IAgentRuntime
{
    string Name { get; }

    Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct);

    IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, CancellationToken ct);

    /// <summary>The whole answer at once (no token events); a runtime with a cheaper non-streaming path overrides it.</summary>
    async Task<FlowRunResult> RunAsync(AgentVersionContext version, InvokeRequest request, CancellationToken ct)
    {
        FlowRunResult? result = null;
        await foreach (var e in InvokeAsync(version, request, ct))
        {
            if (e is FlowCompletedEvent done)
            {
                result = done.Result;
            }
        }
        return result ?? throw new FlowRunException(null, null, "The agent ended without an answer.");
    }
}

/// <summary>The in-process runtime: each flow version is parsed and checked once and kept warm.</summary>
public sealed class BuiltinAgentRuntime(FlowRuntime runtime) : IAgentRuntime
{
    private readonly ConcurrentDictionary<Guid, FlowGraph> _graphs = new();

    public string Name => "builtin";

    public FlowRuntime Runtime => runtime;

    public Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct)
    {
        var report = FlowChecker.Check(version.FlowJson);
        if (!report.Runnable)
        {
            return Task.FromResult(new DeployResult(false, "The flow no longer passes the checks: " + string.Join(" ", report.Problems.Select(p => p.Message))));
        }
        var summary = FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel);
        // The dev model needs no key; every other variable must be set.
        var needed = runtime.Options.IsLive ? summary.Variables : summary.Variables.Except(summary.ModelKeyVariables);
        var missing = needed.Where(v => !version.Secrets.ContainsKey(v)).ToList();
        if (missing.Count > 0)
        {
            return Task.FromResult(new DeployResult(false,
                $"The variable{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} {(missing.Count > 1 ? "are" : "is")} not set: add {(missing.Count > 1 ? "them" : "it")} with PUT /api/provider-agents/{{uuid}}/secrets/."));
        }
        _graphs[version.FlowVersionId] = report.Graph!;
        return Task.FromResult(new DeployResult(true, null));
    }

    public async IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var e in runtime.RunStreamingAsync(Graph(version), RunRequest(version, request), ct))
        {
            yield return e;
        }
    }

    /// <summary>Without streaming: no token channel between the model and the caller.</summary>
    public Task<FlowRunResult> RunAsync(AgentVersionContext version, InvokeRequest request, CancellationToken ct) =>
        runtime.RunAsync(Graph(version), RunRequest(version, request), ct);

    private FlowGraph Graph(AgentVersionContext version) =>
        _graphs.GetOrAdd(version.FlowVersionId, _ => FlowChecker.Check(version.FlowJson).Graph
            ?? throw new FlowRunException(null, null, "The flow version cannot be loaded."));

    private static FlowRunRequest RunRequest(AgentVersionContext version, InvokeRequest request) =>
        new()
        {
            Input = request.Input,
            SessionId = request.SessionId,
            Memory = request.Memory,
            Files = request.Files,
            Secrets = new DictionarySecretProvider(version.Secrets),
            SystemPreamble = request.SystemPreamble,
        };
}

/// <summary>The agent's secrets, encrypted at rest with Data Protection; plaintext only in memory, only for a run.</summary>
public sealed class AgentSecrets(CmpDbContext db, IDataProtectionProvider protection)
{
    /// <summary>The Data Protection purpose of agent secrets.</summary>
    public const string Purpose = "Cmp.Agents.Secrets.v1";

    private readonly IDataProtector _protector = protection.CreateProtector(Purpose);

    public async Task<IReadOnlyDictionary<string, string>> ReadAsync(Guid agentId, CancellationToken ct)
    {
        var rows = await db.AgentSecrets.AsNoTracking().Where(s => s.AgentId == agentId).ToListAsync(ct);
        return rows.ToDictionary(r => r.Name, r => _protector.Unprotect(r.Protected), StringComparer.Ordinal);
    }

    public async Task<List<string>> NamesAsync(Guid agentId, CancellationToken ct) =>
        await db.AgentSecrets.Where(s => s.AgentId == agentId).OrderBy(s => s.Name).Select(s => s.Name).ToListAsync(ct);

    /// <summary>Sets (or with a null value removes) each variable; saved by the caller's SaveChanges.</summary>
    public async Task WriteAsync(Guid agentId, IReadOnlyDictionary<string, string?> values, CancellationToken ct)
    {
        var existing = await db.AgentSecrets.Where(s => s.AgentId == agentId && values.Keys.Contains(s.Name)).ToListAsync(ct);
        foreach (var (name, value) in values)
        {
            var row = existing.FirstOrDefault(s => s.Name == name);
            if (value is null)
            {
                if (row is not null)
                {
                    db.AgentSecrets.Remove(row);
                }
                continue;
            }
            if (row is null)
            {
                db.AgentSecrets.Add(new AgentSecret { AgentId = agentId, Name = name, Protected = _protector.Protect(value) });
            }
            else
            {
                row.Protected = _protector.Protect(value);
                row.UpdatedAt = DateTime.UtcNow;
            }
        }
    }
}

/// <summary>Conversation memory in the database, per scope (a buyer's config, a seller's test chat) and session.</summary>
public sealed class DbConversationMemory(CmpDbContext db, string scope) : IConversationMemory
{
    public async Task<IReadOnlyList<StoredMessage>> GetAsync(string sessionId, int limit, CancellationToken ct)
    {
        var rows = await db.ConversationMessages.AsNoTracking()
            .Where(m => m.Scope == scope && m.SessionId == sessionId)
            .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id)
            .Take(limit)
            .ToListAsync(ct);
        rows.Reverse();
        return rows.Select(r => new StoredMessage(r.Sender, r.SenderName, r.Text, r.CreatedAt)).ToList();
    }

    /// <summary>Adds the turn to the context; the caller saves it together with whatever else belongs to the turn.</summary>
    public Task AppendAsync(string sessionId, IReadOnlyList<StoredMessage> messages, CancellationToken ct)
    {
        db.ConversationMessages.AddRange(Rows(sessionId, messages));
        return Task.CompletedTask;
    }

    /// <summary>The rows of one turn, for a caller that stores them itself.</summary>
    public IReadOnlyList<ConversationMessage> Rows(string sessionId, IReadOnlyList<StoredMessage> messages)
    {
        var at = DateTime.UtcNow;
        return messages.Select((m, i) => new ConversationMessage
        {
            Scope = scope,
            SessionId = sessionId,
            Sender = m.Sender,
            SenderName = m.SenderName,
            Text = m.Text,
            CreatedAt = at.AddTicks(i), // keeps user-before-answer order within one turn
        }).ToList();
    }
}

/// <summary>Asks for (re)deployments; the worker runs them in the background.</summary>
public sealed class DeploymentQueue
{
    private readonly Channel<Guid> _channel = Channel.CreateUnbounded<Guid>();

    public ChannelReader<Guid> Reader => _channel.Reader;

    public void Enqueue(Guid agentId) => _channel.Writer.TryWrite(agentId);

    /// <summary>Marks the agent DEPLOYING (saved by the caller) so the state is visible at once.</summary>
    public static void MarkDeploying(ProviderAgent agent)
    {
        agent.RuntimeState = RuntimeState.Deploying;
        agent.RuntimeError = null;
    }
}

/// <summary>
/// Runs deployments from the queue: DEPLOYING → READY | FAILED with the reason. A result is written only if
/// the agent still waits for that very version (a newer import or secret change wins). On start it picks up
/// agents left DEPLOYING by a restart.
/// </summary>
public sealed class DeploymentWorker(IServiceScopeFactory scopes, DeploymentQueue queue, ILogger<DeploymentWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
            try
            {
                foreach (var id in await db.ProviderAgents.Where(a => a.RuntimeState == RuntimeState.Deploying).Select(a => a.Id).ToListAsync(stoppingToken))
                {
                    queue.Enqueue(id);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("Could not look for unfinished deployments: {Error}", ex.Message);
            }
        }
        await foreach (var agentId in queue.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await DeployAsync(agentId, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Deployment of agent {AgentId} failed unexpectedly", agentId);
            }
        }
    }

    private async Task DeployAsync(Guid agentId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        var runtime = scope.ServiceProvider.GetRequiredService<IAgentRuntime>();
        var secrets = scope.ServiceProvider.GetRequiredService<AgentSecrets>();
        var agent = await db.ProviderAgents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, ct);
        if (agent is null || agent.RuntimeState != RuntimeState.Deploying || agent.CurrentFlowVersionId is not { } versionId)
        {
            return;
        }
        var version = await db.FlowVersions.Where(v => v.Id == versionId).Select(v => new { v.Json, v.RemoteFlowId }).FirstAsync(ct);
        DeployResult result;
        try
        {
            result = await runtime.DeployAsync(new AgentVersionContext(agentId, versionId, version.Json, version.RemoteFlowId, await secrets.ReadAsync(agentId, ct)), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            result = new DeployResult(false, $"The {runtime.Name} runtime could not be reached: {ex.Message}");
        }
        var state = result.Ok ? RuntimeState.Ready : RuntimeState.Failed;
        var error = result.Error is { Length: > 2000 } long_ ? long_[..2000] : result.Error;
        if (result.RemoteFlowId is { } remoteId && remoteId != version.RemoteFlowId)
        {
            // The version's own remote flow, whether or not the agent has moved on meanwhile: buyers pinned to it run it.
            // Unless a run deployed the version meanwhile and stored its flow first: that one stays, this one goes.
            var stored = await db.FlowVersions.Where(v => v.Id == versionId && (v.RemoteFlowId == null || v.RemoteFlowId == version.RemoteFlowId))
                .ExecuteUpdateAsync(s => s.SetProperty(v => v.RemoteFlowId, remoteId), ct);
            if (stored == 0 && runtime is RemoteLangflowRuntime remote)
            {
                await remote.DeleteQuietlyAsync(remoteId);
            }
        }
        var updated = await db.ProviderAgents
            .Where(a => a.Id == agentId && a.RuntimeState == RuntimeState.Deploying && a.CurrentFlowVersionId == versionId)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.RuntimeState, state).SetProperty(a => a.RuntimeError, error)
                .SetProperty(a => a.Version, Guid.NewGuid()), ct);
        logger.LogInformation("Agent {AgentId} version {VersionId} on the {Runtime} runtime: {State}{Skipped}", agentId, versionId, runtime.Name, state,
            updated == 0 ? " (superseded, not recorded)" : "");
    }
}
