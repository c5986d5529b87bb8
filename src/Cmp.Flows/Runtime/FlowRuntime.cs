using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Cmp.Flows.Components;
using Cmp.Flows.Graph;
using Cmp.Flows.Models;
using Cmp.Flows.Security;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Cmp.Flows.Runtime;

/// <summary>
/// Runs checked flows: nodes in dependency order, independent branches in parallel, one time budget
/// for the whole run, per-node timing, tokens streamed from the model node that feeds the chat output.
/// Thread-safe; one instance serves many runs and keeps model clients and run plans warm.
/// </summary>
public sealed class FlowRuntime(FlowRuntimeOptions options)
{
    private readonly ConditionalWeakTable<FlowGraph, FlowPlan> _plans = new();
    private readonly ConcurrentDictionary<(string? Url, string Key, string Model, bool Guarded), IChatClient> _clients = new();
    private readonly Lazy<HttpClient> _guardedHttp = new(() => SsrfGuard.CreateClient(new SsrfOptions
    {
        AllowPrivateNetworks = options.AllowPrivateNetworks,
        Timeout = TimeSpan.FromMinutes(5),
    }));

    public FlowRuntimeOptions Options { get; } = options;

    /// <summary>The outbound client for URLs that come from flows: every connection passes the SSRF guard.</summary>
    private readonly Lazy<HttpClient> _urlHttp = new(() => SsrfGuard.CreateClient(new SsrfOptions { AllowPrivateNetworks = options.AllowPrivateNetworks }));

    internal HttpClient UrlClient => _urlHttp.Value;

    /// <summary>Runs one turn and answers when it is done (no token events: the model is called without streaming).</summary>
    public async Task<FlowRunResult> RunAsync(FlowGraph graph, FlowRunRequest request, CancellationToken ct = default)
    {
        var plan = PlanOf(graph);
        var budget = request.TimeBudget ?? Options.TimeBudget;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(budget);
        var run = new RunState(this, graph, plan, request, null, timeout.Token);
        var output = await WithBudgetAsync(run, ExecuteAsync(run), budget, timeout, ct);
        return Result(run, plan, request, output);
    }

    /// <summary>Runs one turn, yielding the answer's tokens as the model streams them, then the result.</summary>
    public async IAsyncEnumerable<FlowRunEvent> RunStreamingAsync(FlowGraph graph, FlowRunRequest request, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var plan = PlanOf(graph);
        var budget = request.TimeBudget ?? Options.TimeBudget;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(budget);
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var run = new RunState(this, graph, plan, request, channel.Writer, timeout.Token);

        var work = CompleteAfterAsync(ExecuteAsync(run), channel.Writer);
        await foreach (var chunk in channel.Reader.ReadAllAsync(CancellationToken.None))
        {
            yield return new FlowTokenEvent(chunk);
        }
        var output = await WithBudgetAsync(run, work, budget, timeout, ct);
        if (!run.Streamed && output.Length > 0)
        {
            yield return new FlowTokenEvent(output);
        }
        yield return new FlowCompletedEvent(Result(run, plan, request, output));
    }

    private FlowPlan PlanOf(FlowGraph graph)
    {
        var plan = _plans.GetValue(graph, FlowPlan.Build);
        return plan.Outputs.Count == 0 ? throw new FlowRunException(null, null, "The flow has no Chat Output or Text Output to answer with.") : plan;
    }

    private static async Task<string> CompleteAfterAsync(Task<string> work, ChannelWriter<string> writer)
    {
        try
        {
            return await work;
        }
        finally
        {
            writer.TryComplete();
        }
    }

    /// <summary>Awaits the run; a failure leaves with the tokens the run had used (<see cref="FlowRunException.Usage"/>).</summary>
    private static async Task<string> WithBudgetAsync(RunState run, Task<string> work, TimeSpan budget, CancellationTokenSource timeout, CancellationToken ct)
    {
        try
        {
            return await work;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            throw new FlowRunException(null, null, $"The run exceeded its time budget of {budget.TotalSeconds:0.###} s and was stopped.")
                .WithUsage(run.Usage, run.ReachedModel);
        }
        catch (FlowRunException ex)
        {
            throw ex.WithUsage(run.Usage, run.ReachedModel);
        }
    }

    private static FlowRunResult Result(RunState run, FlowPlan plan, FlowRunRequest request, string output)
    {
        var now = DateTime.UtcNow;
        IReadOnlyList<StoredMessage> turn = plan.HasChatInput
            ? [new StoredMessage(FlowMessage.User, "User", request.Input, now), new StoredMessage(FlowMessage.Machine, "AI", output, now)]
            : [new StoredMessage(FlowMessage.Machine, "AI", output, now)];
        return new FlowRunResult(output, request.SessionId, run.Usage, run.Clock.Elapsed, run.Timings, turn);
    }

    /// <summary>
    /// Starts every needed node in dependency order; each awaits its inputs' tasks. A node runs inline until
    /// it waits on something real (a model, a page), so independent branches overlap their I/O without a
    /// thread hop per node.
    /// </summary>
    private static async Task<string> ExecuteAsync(RunState run)
    {
        await Task.Yield(); // the caller gets its enumerator back before any node runs
        var tasks = new Dictionary<string, Task<IReadOnlyDictionary<string, object?>>>(run.Plan.Needed.Count, StringComparer.Ordinal);
        foreach (var node in run.Plan.Needed)
        {
            tasks[node.Id] = RunNodeAsync(run, node, id => tasks[id]);
        }
        await Task.WhenAll(tasks.Values);
        if (run.Plan.Outputs.Count == 1)
        {
            return Values.ToText((await tasks[run.Plan.Outputs[0].Id]).Values.FirstOrDefault());
        }
        var texts = new List<string>();
        foreach (var output in run.Plan.Outputs)
        {
            var text = Values.ToText((await tasks[output.Id]).Values.FirstOrDefault());
            if (text.Length > 0)
            {
                texts.Add(text);
            }
        }
        return string.Join("\n\n", texts);
    }

    private static async Task<IReadOnlyDictionary<string, object?>> RunNodeAsync(
        RunState run, FlowNode node, Func<string, Task<IReadOnlyDictionary<string, object?>>> get)
    {
        var component = ComponentCatalog.Find(node.Component)
            ?? throw new FlowRunException(node.Id, node.Component, "This component is not supported by the CMP runtime.");
        var inputs = new Dictionary<string, List<object?>>(StringComparer.Ordinal);
        foreach (var edge in run.Graph.EdgesInto(node.Id).Where(e => !e.IsLoopBack))
        {
            if (!inputs.TryGetValue(edge.TargetField!, out var list))
            {
                inputs[edge.TargetField!] = list = [];
            }
            var source = run.Graph.Nodes[edge.Source];
            if (FlowPlan.IsToolEdge(edge))
            {
                var toolComponent = ComponentCatalog.Find(source.Component)
                    ?? throw new FlowRunException(source.Id, source.Component, "This component is not supported by the CMP runtime.");
                var toolContext = new NodeContext(source, run, new Dictionary<string, List<object?>>());
                list.AddRange(toolComponent.AsTools(toolContext));
                continue;
            }
            var upstream = await get(edge.Source);
            list.Add(upstream.TryGetValue(edge.SourceOutput, out var value) ? value : upstream.Values.FirstOrDefault());
        }
        var context = new NodeContext(node, run, inputs);
        var started = run.Clock.Elapsed;
        var clock = Stopwatch.StartNew();
        try
        {
            run.Ct.ThrowIfCancellationRequested();
            return await component.RunAsync(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not FlowRunException)
        {
            throw context.Fail(ex.Message, ex);
        }
        finally
        {
            run.Record(new NodeTiming(node.Id, node.Component, started, clock.Elapsed));
        }
    }

    /// <summary>
    /// The chat client for a model: the dev model in <c>dev</c> mode; otherwise OpenAI's client against
    /// the node's base URL (through the SSRF guard, since a flow supplied it), OPENAI_BASE_URL, or OpenAI.
    /// </summary>
    internal IChatClient GetClient(ModelSpec spec, ISecretProvider secrets, NodeContext ctx)
    {
        if (!Options.IsLive)
        {
            return DevChatClient.Instance;
        }
        string key;
        if (spec.ApiKeyIsVariable)
        {
            key = secrets.Get(spec.ApiKey!) is { Length: > 0 } secret
                ? secret
                : spec.IsOllama ? "ollama" : throw ctx.Fail($"The variable {spec.ApiKey} is not set: add it to the agent's secrets.");
        }
        else
        {
            key = spec.ApiKey ?? "";
        }
        var nodeUrl = spec.BaseUrl;
        var url = nodeUrl ?? Options.OpenAiBaseUrl;
        var guarded = nodeUrl is not null;
        return _clients.GetOrAdd((url, key, spec.Model, guarded), k =>
        {
            var clientOptions = new OpenAIClientOptions();
            if (k.Url is not null)
            {
                clientOptions.Endpoint = new Uri(k.Url);
            }
            if (k.Guarded)
            {
                clientOptions.Transport = new HttpClientPipelineTransport(_guardedHttp.Value);
            }
            return new OpenAI.Chat.ChatClient(k.Model, new ApiKeyCredential(k.Key), clientOptions).AsIChatClient();
        });
    }
}
