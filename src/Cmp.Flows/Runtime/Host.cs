namespace Cmp.Flows.Runtime;

/// <summary>One turn of a conversation as memory keeps it.</summary>
public sealed record StoredMessage(string Sender, string SenderName, string Text, DateTime Timestamp);

/// <summary>Conversation memory per session. The CLI keeps it in memory; the web host in its database.</summary>
public interface IConversationMemory
{
    /// <summary>The newest <paramref name="limit"/> messages of the session, oldest first.</summary>
    Task<IReadOnlyList<StoredMessage>> GetAsync(string sessionId, int limit, CancellationToken ct);

    Task AppendAsync(string sessionId, IReadOnlyList<StoredMessage> messages, CancellationToken ct);
}

public sealed class InMemoryConversationMemory : IConversationMemory
{
    private readonly Dictionary<string, List<StoredMessage>> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public Task<IReadOnlyList<StoredMessage>> GetAsync(string sessionId, int limit, CancellationToken ct)
    {
        lock (_gate)
        {
            IReadOnlyList<StoredMessage> result = _sessions.TryGetValue(sessionId, out var list)
                ? list.Skip(Math.Max(0, list.Count - limit)).ToList()
                : [];
            return Task.FromResult(result);
        }
    }

    public Task AppendAsync(string sessionId, IReadOnlyList<StoredMessage> messages, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(sessionId, out var list))
            {
                _sessions[sessionId] = list = [];
            }
            list.AddRange(messages);
        }
        return Task.CompletedTask;
    }
}

/// <summary>Resolves the variables named by <c>load_from_db</c> fields (e.g. <c>OPENAI_API_KEY</c>).</summary>
public interface ISecretProvider
{
    string? Get(string name);
}

public sealed class DictionarySecretProvider(IReadOnlyDictionary<string, string> values) : ISecretProvider
{
    public static readonly DictionarySecretProvider Empty = new(new Dictionary<string, string>());

    public string? Get(string name) => values.TryGetValue(name, out var v) ? v : null;
}

/// <summary>A file supplied for a File node (exports strip the files themselves).</summary>
public sealed record FlowFile(string Name, byte[] Content);

/// <summary>Supplies the files for File nodes: uploaded by the seller (web) or given with <c>--file NODE_ID=PATH</c> (CLI).</summary>
public interface IFlowFileProvider
{
    IReadOnlyList<FlowFile> GetFiles(string nodeId);
}

public sealed class DictionaryFileProvider(IReadOnlyDictionary<string, IReadOnlyList<FlowFile>> files) : IFlowFileProvider
{
    public static readonly DictionaryFileProvider Empty = new(new Dictionary<string, IReadOnlyList<FlowFile>>());

    public IReadOnlyList<FlowFile> GetFiles(string nodeId) => files.TryGetValue(nodeId, out var list) ? list : [];
}

/// <summary>What one run needs from its host.</summary>
public sealed class FlowRunRequest
{
    public required string Input { get; init; }
    public string SessionId { get; init; } = Guid.NewGuid().ToString("N");
    public IConversationMemory Memory { get; init; } = new InMemoryConversationMemory();
    public ISecretProvider Secrets { get; init; } = DictionarySecretProvider.Empty;
    public IFlowFileProvider Files { get; init; } = DictionaryFileProvider.Empty;
    /// <summary>Text added to the system message of every model call (the buyer's persona wraps the seller's flow).</summary>
    public string? SystemPreamble { get; init; }
    /// <summary>Overrides <see cref="FlowRuntimeOptions.TimeBudget"/> for this run.</summary>
    public TimeSpan? TimeBudget { get; init; }
}

public sealed record TokenUsage(long InputTokens, long OutputTokens)
{
    public static readonly TokenUsage Zero = new(0, 0);

    public TokenUsage Add(TokenUsage other) => new(InputTokens + other.InputTokens, OutputTokens + other.OutputTokens);
}

public sealed record NodeTiming(string NodeId, string Component, TimeSpan Started, TimeSpan Elapsed);

/// <summary>The answer of a run. <see cref="NewMessages"/> is the turn for the host to store in memory.</summary>
public sealed record FlowRunResult(
    string Output,
    string SessionId,
    TokenUsage Usage,
    TimeSpan Elapsed,
    IReadOnlyList<NodeTiming> Nodes,
    IReadOnlyList<StoredMessage> NewMessages);

public abstract record FlowRunEvent;

/// <summary>A chunk of the answer as the model streams it.</summary>
public sealed record FlowTokenEvent(string Text) : FlowRunEvent;

public sealed record FlowCompletedEvent(FlowRunResult Result) : FlowRunEvent;

/// <summary>A run failed; names the node when one is to blame.</summary>
public sealed class FlowRunException(string? nodeId, string? component, string message, Exception? inner = null)
    : Exception(nodeId is null ? message : $"{nodeId} ({component}): {message}", inner)
{
    public string? NodeId { get; } = nodeId;
    public string? Component { get; } = component;
    public string Reason { get; } = message;

    /// <summary>
    /// The tokens the run really used before it failed (what was sent to models and what they generated), so a host
    /// meters a failed run by what it cost. <see cref="TokenUsage.Zero"/> with <see cref="ReachedModel"/> false: no
    /// model was called, nothing to meter.
    /// </summary>
    public TokenUsage Usage { get; private set; } = TokenUsage.Zero;

    /// <summary>Whether any model call was made before the failure.</summary>
    public bool ReachedModel { get; private set; }

    /// <summary>Records what the failed run had used; the runtime calls it on the way out.</summary>
    public FlowRunException WithUsage(TokenUsage usage, bool reachedModel)
    {
        Usage = usage;
        ReachedModel = reachedModel;
        return this;
    }
}
