using System.Diagnostics;
using System.Threading.Channels;
using Cmp.Flows.Graph;
using Cmp.Flows.Models;
using Microsoft.Extensions.AI;

namespace Cmp.Flows.Runtime;

/// <summary>The mutable state of one run: usage, timings, the token stream, cancellation.</summary>
internal sealed class RunState(FlowRuntime runtime, FlowGraph graph, FlowPlan plan, FlowRunRequest request, ChannelWriter<string>? tokens, CancellationToken ct)
{
    private readonly Lock _gate = new();
    private readonly List<NodeTiming> _timings = [];
    private TokenUsage _usage = TokenUsage.Zero;
    private int _streamed;
    private int _reachedModel;

    public FlowRuntime Runtime { get; } = runtime;
    public FlowGraph Graph { get; } = graph;
    public FlowPlan Plan { get; } = plan;
    public FlowRunRequest Request { get; } = request;
    public CancellationToken Ct { get; } = ct;
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public bool Streamed => Volatile.Read(ref _streamed) == 1;

    /// <summary>Whether a model was called (then a failure still cost tokens and is metered).</summary>
    public bool ReachedModel => Volatile.Read(ref _reachedModel) == 1;

    public TokenUsage Usage
    {
        get
        {
            lock (_gate)
            {
                return _usage;
            }
        }
    }

    public IReadOnlyList<NodeTiming> Timings
    {
        get
        {
            lock (_gate)
            {
                return _timings.OrderBy(t => t.Started).ToList();
            }
        }
    }

    public void Record(NodeTiming timing)
    {
        lock (_gate)
        {
            _timings.Add(timing);
        }
    }

    private void AddUsage(TokenUsage usage)
    {
        lock (_gate)
        {
            _usage = _usage.Add(usage);
        }
    }

    public Task<IReadOnlyList<StoredMessage>> HistoryAsync(int limit) =>
        limit <= 0 ? Task.FromResult<IReadOnlyList<StoredMessage>>([]) : Request.Memory.GetAsync(Request.SessionId, limit, Ct);

    /// <summary>
    /// Calls the node's model. The buyer's preamble joins the system text; the node that feeds the
    /// chat output streams its tokens to the caller; usage is counted whichever way the answer came.
    /// </summary>
    public async Task<string> ChatAsync(NodeContext ctx, ModelSpec spec, List<ChatMessage> messages, ChatOptions? options = null, int maxToolIterations = 0)
    {
        if (!string.IsNullOrWhiteSpace(Request.SystemPreamble))
        {
            var system = messages.FindIndex(m => m.Role == ChatRole.System);
            if (system >= 0)
            {
                messages[system] = new ChatMessage(ChatRole.System, messages[system].Text + "\n\n" + Request.SystemPreamble);
            }
            else
            {
                messages.Insert(0, new ChatMessage(ChatRole.System, Request.SystemPreamble));
            }
        }
        var client = Runtime.GetClient(spec, Request.Secrets, ctx);
        if (options?.Tools is { Count: > 0 })
        {
            client = new FunctionInvokingChatClient(client) { MaximumIterationsPerRequest = Math.Max(1, maxToolIterations) };
        }
        Volatile.Write(ref _reachedModel, 1);
        var text = new System.Text.StringBuilder();
        try
        {
            if (tokens is not null && Plan.StreamingNodeId == ctx.Node.Id)
            {
                UsageDetails? usage = null;
                await foreach (var update in client.GetStreamingResponseAsync(messages, options, Ct))
                {
                    foreach (var u in update.Contents.OfType<UsageContent>())
                    {
                        usage = Sum(usage, u.Details);
                    }
                    // Only the final answer streams: tool-call rounds carry no text.
                    if (update.Text is { Length: > 0 } chunk)
                    {
                        text.Append(chunk);
                        Volatile.Write(ref _streamed, 1);
                        await tokens.WriteAsync(chunk, Ct);
                    }
                }
                var answer = text.ToString();
                AddUsage(ToUsage(usage, messages, answer));
                return answer;
            }
            var response = await client.GetResponseAsync(messages, options, Ct);
            AddUsage(ToUsage(response.Usage, messages, response.Text));
            return response.Text;
        }
        catch (Exception ex)
        {
            // What was sent and what came back before the failure was really used: it is metered.
            AddUsage(ToUsage(null, messages, text.ToString()));
            if (ex is OperationCanceledException or FlowRunException)
            {
                throw;
            }
            throw ctx.Fail($"The model call to {spec.Provider} '{spec.Model}' failed: {ex.Message}", ex);
        }
    }

    private static UsageDetails Sum(UsageDetails? a, UsageDetails b) => a is null ? b : new UsageDetails
    {
        InputTokenCount = (a.InputTokenCount ?? 0) + (b.InputTokenCount ?? 0),
        OutputTokenCount = (a.OutputTokenCount ?? 0) + (b.OutputTokenCount ?? 0),
    };

    /// <summary>The server's own count when it gives one, else o200k over what was sent and received.</summary>
    private static TokenUsage ToUsage(UsageDetails? usage, List<ChatMessage> messages, string answer) =>
        usage is { InputTokenCount: { } input, OutputTokenCount: { } output }
            ? new TokenUsage(input, output)
            : new TokenUsage(messages.Sum(m => TokenCounter.Count(m.Text)), TokenCounter.Count(answer));
}
