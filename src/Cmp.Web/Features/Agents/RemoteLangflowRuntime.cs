using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cmp.Flows.Checks;
using Cmp.Flows.Graph;
using Cmp.Flows.Models;
using Cmp.Flows.Runtime;
using Cmp.Flows.Security;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Agents;

/// <summary>
/// A seller's flow deployed to a real Langflow server over its REST API (<c>LANGFLOW_URL</c>, <c>LANGFLOW_API_KEY</c>):
/// <c>POST /api/v1/flows/</c> creates the flow, <c>POST /api/v1/run/{id}?stream=true</c> runs it with the buyer's own
/// <c>session_id</c>, secrets travel as <c>X-LANGFLOW-GLOBAL-VAR-&lt;NAME&gt;</c> headers, and the stream is read as Langflow
/// sends it: JSON objects separated by blank lines (<c>token</c> events, then <c>end</c>). The HTTP client has a timeout
/// and a circuit breaker and never retries a run Langflow started, which is not idempotent (a 404 for a lost flow ran nothing and is sent again). The buyer's persona travels as the run's
/// <c>tweaks</c> (<see cref="PersonaTweaks"/>): added to the system text of every model in the flow. What Langflow receives
/// is checked as the built-in runtime checks it, and its code is CMP's stock code, never the export's (<see cref="StockCode"/>).
/// </summary>
public sealed class RemoteLangflowRuntime(HttpClient http, IServiceScopeFactory scopes, ILogger<RemoteLangflowRuntime> logger) : IAgentRuntime
{
    public const string HttpClientName = "langflow";

    /// <summary>Where each flow version takes the persona; versions are immutable, so found once.</summary>
    private readonly ConcurrentDictionary<Guid, PersonaTweaks> _personaPlans = new();

    public string Name => "Langflow";

    /// <summary>Versions without a remote flow of their own being deployed now, at most once each in this process.</summary>
    private readonly ConcurrentDictionary<Guid, Lazy<Task<string>>> _lateDeploys = new();

    /// <summary>
    /// Creates the version's flow on the Langflow server; a version that already has one there keeps it (a redeploy,
    /// e.g. after its secrets changed, which travel with each run anyway). A kept flow must carry this version's
    /// name, so an id that belongs to another version is never reused.
    /// </summary>
    public async Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct)
    {
        // The same checks as the built-in runtime: a version stored before a check existed (custom code, say) stops here.
        var report = FlowChecker.Check(version.FlowJson);
        if (!report.Runnable)
        {
            return new DeployResult(false, "The flow no longer passes the checks: " + string.Join(" ", report.Problems.Select(p => p.NodeId is null ? p.Message : $"{p.NodeId} ({p.Component}): {p.Message}")));
        }
        var name = FlowName(version);
        if (PersonaPlan(version).Missed is { Count: > 0 } missed)
        {
            logger.LogWarning("Flow version {VersionId}: the buyer's persona cannot reach {Nodes}, whose system text another component computes",
                version.FlowVersionId, string.Join(", ", missed));
        }
        if (version.RemoteFlowId is { } existing)
        {
            using var check = await http.GetAsync($"api/v1/flows/{Uri.EscapeDataString(existing)}", ct);
            if (check.IsSuccessStatusCode)
            {
                var found = TryParse(await check.Content.ReadAsStringAsync(ct), out var flow) ? flow!["name"]?.GetValue<string>() : null;
                if (found == name)
                {
                    return new DeployResult(true, null, existing);
                }
                logger.LogWarning("Flow {FlowId} on Langflow is named {Found}, not {Name}; creating this version's own", existing, found, name);
            }
            else if (check.StatusCode != System.Net.HttpStatusCode.NotFound)
            {
                return new DeployResult(false, $"Langflow could not confirm flow {existing}: HTTP {(int)check.StatusCode} {Truncate(await check.Content.ReadAsStringAsync(ct))}");
            }
            else
            {
                logger.LogInformation("Flow {FlowId} of version {VersionId} is gone from Langflow; creating it again", existing, version.FlowVersionId);
            }
        }
        // Never the seller's bytes: the components the graph holds, each with the stock code CMP ships (StockCode).
        var stock = StockCode.ForLangflow(version.FlowJson);
        if (stock.Data is null)
        {
            return new DeployResult(false, "The flow cannot be sent to Langflow: " + string.Join(" ", stock.Problems.Select(p => p.Message)));
        }
        var body = new JsonObject
        {
            ["name"] = name,
            ["description"] = FlowParser.Str(JsonNode.Parse(version.FlowJson)?["description"]) ?? "",
            ["data"] = stock.Data,
        };
        using var response = await http.PostAsync("api/v1/flows/", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            return new DeployResult(false, $"Langflow refused the flow: HTTP {(int)response.StatusCode} {Truncate(text)}");
        }
        var id = JsonNode.Parse(text)?["id"]?.GetValue<string>();
        return id is null
            ? new DeployResult(false, "Langflow answered without a flow id.")
            : new DeployResult(true, null, id);
    }

    public async IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        var flowId = await FlowIdAsync(version, ct);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var input = request.Input;
        var payload = new JsonObject
        {
            ["input_value"] = input,
            ["input_type"] = "chat",
            ["output_type"] = "chat",
            ["session_id"] = request.SessionId,
        };
        if (PersonaPlan(version).Tweaks(request.SystemPreamble) is { } tweaks)
        {
            payload["tweaks"] = tweaks;
        }
        var response = await SendRunAsync(flowId, payload, version.Secrets, ct);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // The version's flow is gone from Langflow (its database was reset, or the flow deleted). The run never
            // started, so the flow is made again and the run sent once more.
            response.Dispose();
            flowId = await ReplaceLostFlowAsync(version, flowId, ct);
            response = await SendRunAsync(flowId, payload, version.Secrets, ct);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var error = await response.Content.ReadAsStringAsync(ct);
                // A 5xx comes from a run Langflow started (its models may have been called): metered by what went in.
                // A 4xx refused the request before anything ran.
                var started5xx = (int)response.StatusCode >= 500;
                throw new FlowRunException(null, null, $"Langflow failed the run: HTTP {(int)response.StatusCode} {Truncate(error)}")
                    .WithUsage(started5xx ? new TokenUsage(TokenCounter.Count(input), 0) : TokenUsage.Zero, started5xx);
            }
            var output = new StringBuilder();
            string? final = null;
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var block = new StringBuilder();
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.Length > 0)
                {
                    block.Append(line);
                    // Objects usually sit on one line; a blank line ends one either way.
                    if (!TryParse(block.ToString(), out _))
                    {
                        continue;
                    }
                }
                if (block.Length == 0 || !TryParse(block.ToString(), out var evt))
                {
                    continue;
                }
                block.Clear();
                var kind = evt!["event"]?.GetValue<string>();
                var chunk = kind == "token" ? evt["data"]?["chunk"]?.GetValue<string>() ?? "" : "";
                switch (kind)
                {
                    case "token" when chunk.Length > 0:
                        output.Append(chunk);
                        yield return new FlowTokenEvent(chunk);
                        break;
                    case "error":
                        // The run was under way: what went in and what came out before the error was really used.
                        throw new FlowRunException(null, null, "Langflow reported an error: " + Truncate(evt["data"]?.ToJsonString() ?? ""))
                            .WithUsage(new TokenUsage(TokenCounter.Count(input), TokenCounter.Count(output.ToString())), reachedModel: true);
                    case "end":
                        final = MessageText(evt["data"]?["result"]);
                        break;
                }
            }
            var answer = final ?? output.ToString();
            if (output.Length == 0 && answer.Length > 0)
            {
                yield return new FlowTokenEvent(answer);
            }
            logger.LogInformation("Langflow run of flow {FlowId} answered {Length} characters", flowId, answer.Length);
            var now = DateTime.UtcNow;
            // Langflow reports no token usage on /run; count what went in and out with o200k, as the dev model does.
            yield return new FlowCompletedEvent(new FlowRunResult(
                answer, request.SessionId, new TokenUsage(TokenCounter.Count(input), TokenCounter.Count(answer)), started.Elapsed, [],
                [new StoredMessage(FlowMessage.User, "User", request.Input, now), new StoredMessage(FlowMessage.Machine, "AI", answer, now)]));
        }
    }

    /// <summary>
    /// The version's flow on the Langflow server. A version without one (imported while the built-in runtime was
    /// in use, or pinned from before versions kept their own) is deployed on its first run and the id stored; when
    /// another server process stored one first, that one is used.
    /// </summary>
    private async Task<string> FlowIdAsync(AgentVersionContext version, CancellationToken ct)
    {
        if (version.RemoteFlowId is { } id)
        {
            return id;
        }
        var late = _lateDeploys.GetOrAdd(version.FlowVersionId, _ => new Lazy<Task<string>>(() => DeployLateAsync(version)));
        try
        {
            return await late.Value.WaitAsync(ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            _lateDeploys.TryRemove(KeyValuePair.Create(version.FlowVersionId, late)); // the next run tries again
            throw;
        }
    }

    private async Task<HttpResponseMessage> SendRunAsync(string flowId, JsonObject payload, IReadOnlyDictionary<string, string> secrets, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, $"api/v1/run/{Uri.EscapeDataString(flowId)}?stream=true")
        {
            Content = new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        foreach (var (name, value) in secrets)
        {
            message.Headers.TryAddWithoutValidation("X-LANGFLOW-GLOBAL-VAR-" + name, value);
        }
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        try
        {
            return await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw new FlowRunException(null, null, $"Langflow could not be reached: {ex.Message}", ex);
        }
    }

    /// <summary>Forgets a flow Langflow no longer has (only if it is still the one stored) and deploys the version again.</summary>
    private async Task<string> ReplaceLostFlowAsync(AgentVersionContext version, string lost, CancellationToken ct)
    {
        logger.LogWarning("Flow {FlowId} of version {VersionId} is gone from Langflow; deploying the version again", lost, version.FlowVersionId);
        if (_lateDeploys.TryGetValue(version.FlowVersionId, out var late) && late.IsValueCreated
            && late.Value.IsCompletedSuccessfully && late.Value.Result == lost)
        {
            _lateDeploys.TryRemove(KeyValuePair.Create(version.FlowVersionId, late));
        }
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CmpDbContext>().FlowVersions
                .Where(v => v.Id == version.FlowVersionId && v.RemoteFlowId == lost)
                .ExecuteUpdateAsync(s => s.SetProperty(v => v.RemoteFlowId, (string?)null), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new FlowRunException(null, null, "The agent's flow is gone from Langflow and could not be replaced: " + ex.Message, ex);
        }
        return await FlowIdAsync(version with { RemoteFlowId = null }, ct);
    }

    private async Task<string> DeployLateAsync(AgentVersionContext version)
    {
        DeployResult result;
        try
        {
            result = await DeployAsync(version, CancellationToken.None);
        }
        catch (Exception ex)
        {
            throw new FlowRunException(null, null, $"Langflow could not be reached: {ex.Message}", ex);
        }
        if (!result.Ok || result.RemoteFlowId is not { } created)
        {
            throw new FlowRunException(null, null, result.Error ?? "Langflow answered without a flow id.");
        }
        string? winner;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
            if (await db.FlowVersions.Where(v => v.Id == version.FlowVersionId && v.RemoteFlowId == null)
                .ExecuteUpdateAsync(s => s.SetProperty(v => v.RemoteFlowId, created)) == 1)
            {
                logger.LogInformation("Version {VersionId} deployed to Langflow on its first run as flow {FlowId}", version.FlowVersionId, created);
                return created;
            }
            winner = await db.FlowVersions.Where(v => v.Id == version.FlowVersionId).Select(v => v.RemoteFlowId).FirstAsync();
        }
        catch (Exception ex)
        {
            throw new FlowRunException(null, null, "The agent's flow was deployed to Langflow but could not be recorded: " + ex.Message, ex);
        }
        if (winner is null)
        {
            return created;
        }
        // Another server process (or the deployment worker) stored a flow first: use that one, remove ours.
        await DeleteQuietlyAsync(created);
        return winner;
    }

    /// <summary>Removes a flow nothing will run; a failure only leaves an unused flow behind, so it is logged, not thrown.</summary>
    internal async Task DeleteQuietlyAsync(string flowId)
    {
        try
        {
            using var response = await http.DeleteAsync($"api/v1/flows/{Uri.EscapeDataString(flowId)}");
            logger.LogInformation("Removed unused flow {FlowId} from Langflow: HTTP {Status}", flowId, (int)response.StatusCode);
        }
        catch (Exception ex)
        {
            logger.LogWarning("Could not remove unused flow {FlowId} from Langflow: {Error}", flowId, ex.Message);
        }
    }

    private static string FlowName(AgentVersionContext version) => $"cmp-{version.AgentId:N}-{version.FlowVersionId:N}";

    private PersonaTweaks PersonaPlan(AgentVersionContext version) =>
        _personaPlans.GetOrAdd(version.FlowVersionId, static (_, json) => PersonaTweaks.Plan(json), version.FlowJson);

    /// <summary>The chat answer inside a /run result: outputs[0].outputs[0].results.message.text.</summary>
    internal static string? MessageText(JsonNode? result)
    {
        var first = result?["outputs"]?[0]?["outputs"]?[0];
        return first?["results"]?["message"]?["text"]?.GetValue<string>()
            ?? first?["outputs"]?["message"]?["message"]?.GetValue<string>();
    }

    private static bool TryParse(string text, out JsonNode? node)
    {
        try
        {
            node = JsonNode.Parse(text);
            return node is JsonObject;
        }
        catch (JsonException)
        {
            node = null;
            return false;
        }
    }

    private static string Truncate(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
