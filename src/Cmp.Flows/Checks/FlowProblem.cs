namespace Cmp.Flows.Checks;

/// <summary>Why a flow cannot run. File-level problems have no node.</summary>
public sealed record FlowProblem(string? NodeId, string? Component, string Message);

/// <summary>The flow could not be loaded or checked; every problem is listed.</summary>
public sealed class FlowRejectedException(IReadOnlyList<FlowProblem> problems)
    : Exception("The flow cannot run: " + string.Join(" ", problems.Select(p => p.NodeId is null ? p.Message : $"{p.NodeId} ({p.Component}): {p.Message}")))
{
    public IReadOnlyList<FlowProblem> Problems { get; } = problems;
}
