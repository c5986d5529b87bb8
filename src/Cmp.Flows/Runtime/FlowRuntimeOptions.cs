namespace Cmp.Flows.Runtime;

/// <summary>How the runtime reaches models and the outside world. One instance per host.</summary>
public sealed class FlowRuntimeOptions
{
    /// <summary><c>dev</c> (default): the deterministic built-in model; <c>live</c>: OpenAI or an OpenAI-compatible server.</summary>
    public string LlmMode { get; init; } = "dev";

    /// <summary>OPENAI_BASE_URL: any OpenAI-compatible server for models whose node names no base URL.</summary>
    public string? OpenAiBaseUrl { get; init; }

    /// <summary>The model used when a 1.8 export's model selection is empty.</summary>
    public string DefaultModel { get; init; } = "gpt-4o-mini";

    /// <summary>Time budget of one run, from the first node to the answer.</summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Lets URL components and node-supplied model URLs reach loopback/private addresses (tests with local servers only).</summary>
    public bool AllowPrivateNetworks { get; init; }

    public bool IsLive => LlmMode.Equals("live", StringComparison.OrdinalIgnoreCase);
}
