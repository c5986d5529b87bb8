using Cmp.Flows.Graph;

namespace Cmp.Flows.Runtime;

/// <summary>What a graph needs at run time, worked out once per graph (the runtime caches it per flow version).</summary>
internal sealed class FlowPlan
{
    public static readonly IReadOnlySet<string> OutputComponents = new HashSet<string>(StringComparer.Ordinal) { "ChatOutput", "TextOutput" };
    public static readonly IReadOnlySet<string> ModelComponents = new HashSet<string>(StringComparer.Ordinal) { "LanguageModelComponent", "OpenAIModel", "Agent" };

    public required IReadOnlyList<FlowNode> Outputs { get; init; }
    /// <summary>Nodes that receive the user's message: the chat inputs, or when there are none, the first text input.</summary>
    public required IReadOnlySet<string> InputNodeIds { get; init; }
    public required bool HasChatInput { get; init; }
    /// <summary>Nodes that must run to produce the outputs (tool-only nodes excluded).</summary>
    public required IReadOnlyList<FlowNode> Needed { get; init; }
    /// <summary>The model node whose answer goes straight to the only chat output; it streams.</summary>
    public string? StreamingNodeId { get; init; }

    public static bool IsToolEdge(FlowEdge e) => e.SourceOutput == "component_as_tool" || e.OutputTypes.Contains("Tool");

    /// <summary>The needed nodes, each after the nodes it reads from (the checks guarantee there is no cycle).</summary>
    private static List<FlowNode> TopologicalOrder(FlowGraph graph, HashSet<string> needed)
    {
        var order = new List<FlowNode>(needed.Count);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false = in progress, true = placed
        foreach (var root in graph.Nodes.Values.Where(n => needed.Contains(n.Id)).OrderBy(n => n.Order))
        {
            var stack = new Stack<(string Id, bool Expanded)>();
            stack.Push((root.Id, false));
            while (stack.Count > 0)
            {
                var (id, expanded) = stack.Pop();
                if (expanded)
                {
                    state[id] = true;
                    order.Add(graph.Nodes[id]);
                    continue;
                }
                if (state.ContainsKey(id))
                {
                    continue;
                }
                state[id] = false;
                stack.Push((id, true));
                foreach (var e in graph.EdgesInto(id).Where(e => !e.IsLoopBack && !IsToolEdge(e) && needed.Contains(e.Source)))
                {
                    if (!state.ContainsKey(e.Source))
                    {
                        stack.Push((e.Source, false));
                    }
                }
            }
        }
        return order;
    }

    public static FlowPlan Build(FlowGraph graph)
    {
        var outputs = graph.Nodes.Values.Where(n => OutputComponents.Contains(n.Component)).OrderBy(n => n.Order).ToList();
        var chatInputs = graph.Nodes.Values.Where(n => n.Component == "ChatInput").OrderBy(n => n.Order).ToList();
        var inputs = chatInputs.Count > 0
            ? chatInputs
            : graph.Nodes.Values.Where(n => n.Component == "TextInput").OrderBy(n => n.Order).Take(1).ToList();

        var needed = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(outputs.Select(o => o.Id));
        while (stack.Count > 0)
        {
            var id = stack.Pop();
            if (!needed.Add(id))
            {
                continue;
            }
            foreach (var e in graph.EdgesInto(id).Where(e => !e.IsLoopBack && !IsToolEdge(e)))
            {
                stack.Push(e.Source);
            }
        }

        string? streaming = null;
        if (outputs.Count == 1 && outputs[0].Component == "ChatOutput")
        {
            var feeding = graph.EdgesInto(outputs[0].Id).Where(e => e.TargetField == "input_value").ToList();
            if (feeding.Count == 1 && graph.Nodes.TryGetValue(feeding[0].Source, out var source) && ModelComponents.Contains(source.Component))
            {
                streaming = source.Id;
            }
        }

        return new FlowPlan
        {
            Outputs = outputs,
            InputNodeIds = inputs.Select(n => n.Id).ToHashSet(StringComparer.Ordinal),
            HasChatInput = chatInputs.Count > 0,
            Needed = TopologicalOrder(graph, needed),
            StreamingNodeId = streaming,
        };
    }
}
