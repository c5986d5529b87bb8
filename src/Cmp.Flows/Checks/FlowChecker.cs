using Cmp.Flows.Components;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Cmp.Flows.Security;

namespace Cmp.Flows.Checks;

/// <summary>The result of checking one export: the graph when it parsed, and every problem found.</summary>
public sealed record FlowCheckReport(FlowGraph? Graph, IReadOnlyList<FlowProblem> Problems)
{
    public bool Runnable => Graph is not null && Problems.Count == 0;
}

/// <summary>
/// Refuses at import what the runtime cannot run. Each problem names the node id and component it is about:
/// unsupported components, code that is not Langflow's stock code for the component (<see cref="StockCode"/>; the
/// same test for both runtimes, whatever the export's <c>edited</c> flag says), grouped components, dangling edges,
/// cycles, type mismatches on edges, missing required fields, unsupported model providers, and a flow with nothing
/// to answer with.
/// </summary>
public static class FlowChecker
{
    private static readonly IReadOnlySet<string> ToolCapable = new HashSet<string>(StringComparer.Ordinal) { "CalculatorComponent", "URL", "URLComponent" };

    public static FlowCheckReport Check(byte[] utf8) => Check(FlowParser.Parse(utf8));

    public static FlowCheckReport Check(string json) => Check(FlowParser.Parse(json));

    private static FlowCheckReport Check(FlowParser.Result parsed)
    {
        if (parsed.Graph is null)
        {
            return new FlowCheckReport(null, parsed.Problems);
        }
        var graph = parsed.Graph;
        var problems = new List<FlowProblem>(parsed.Problems);

        foreach (var node in graph.Nodes.Values.OrderBy(n => n.Order))
        {
            var component = ComponentCatalog.Find(node.Component);
            if (component is null)
            {
                problems.Add(new FlowProblem(node.Id, node.Component, $"The component '{node.DisplayName}' ({node.Component}) is not supported by the CMP runtime."));
                continue;
            }
            if (StockCode.Problem(node) is { } notStock)
            {
                problems.Add(new FlowProblem(node.Id, node.Component, notStock));
                continue;
            }
            if (node.IsGroup)
            {
                // Langflow expands a group's nested flow, code and all, when it builds the graph; CMP checks only top-level nodes.
                problems.Add(new FlowProblem(node.Id, node.Component, "The node groups other components (a nested flow); CMP does not run grouped components: ungroup them in Langflow."));
                continue;
            }
            foreach (var message in component.Check(node))
            {
                problems.Add(new FlowProblem(node.Id, node.Component, message));
            }
            foreach (var field in node.Fields.Values.Where(f => f.Required && f.Show && !f.HasValue && f.Type != "model"))
            {
                // A 1.8 model list left empty means "the platform's default model"; anything else must be set or connected.
                if (!graph.EdgesInto(node.Id).Any(e => e.TargetField == field.Name))
                {
                    problems.Add(new FlowProblem(node.Id, node.Component, $"The required field '{field.Name}' has no value and no connection."));
                }
            }
        }

        foreach (var edge in graph.Edges)
        {
            var hasSource = graph.Nodes.TryGetValue(edge.Source, out var source);
            var hasTarget = graph.Nodes.TryGetValue(edge.Target, out var target);
            if (!hasSource || !hasTarget)
            {
                var known = hasSource ? source : target;
                problems.Add(new FlowProblem(known?.Id, known?.Component,
                    $"An edge from {edge.Source} to {edge.Target} points to a node that is not in the flow."));
                continue;
            }
            if (edge.IsLoopBack)
            {
                continue;
            }
            if (edge.InputTypes.Count > 0 && edge.OutputTypes.Count > 0 && !edge.OutputTypes.Intersect(edge.InputTypes).Any())
            {
                problems.Add(new FlowProblem(target!.Id, target.Component,
                    $"The field '{edge.TargetField}' accepts {string.Join(", ", edge.InputTypes)} but receives {string.Join(", ", edge.OutputTypes)} from {source!.Id}."));
            }
            if (target!.Fields.Count > 0 && !target.Fields.ContainsKey(edge.TargetField!))
            {
                problems.Add(new FlowProblem(target.Id, target.Component, $"An edge from {source!.Id} feeds the field '{edge.TargetField}', which this component does not have."));
            }
            if (FlowPlan.IsToolEdge(edge) && ComponentCatalog.Find(source!.Component) is not null && !ToolCapable.Contains(source.Component))
            {
                problems.Add(new FlowProblem(source.Id, source.Component, "This component cannot be used as a tool by the CMP runtime."));
            }
        }

        problems.AddRange(Cycles(graph));

        if (!graph.Nodes.Values.Any(n => FlowPlan.OutputComponents.Contains(n.Component)))
        {
            // Name the nodes where the flow ends, so the seller sees where an output is missing.
            var sinks = graph.Nodes.Values.Where(n => !graph.EdgesOutOf(n.Id).Any()).OrderBy(n => n.Order).ToList();
            const string noOutput = "The flow has no Chat Output or Text Output: this node's result reaches nothing that answers the user.";
            problems.AddRange(sinks.Count > 0
                ? sinks.Select(n => new FlowProblem(n.Id, n.Component, noOutput))
                : [new FlowProblem(null, null, "The flow has no nodes: nothing would answer the user.")]);
        }
        return new FlowCheckReport(graph, problems.Distinct().ToList());
    }

    /// <summary>
    /// Cycles over the edges that carry values; Langflow's loop-back edges are its explicit loop and are left out.
    /// Depth-first with an explicit stack, so a long chain cannot overflow the call stack.
    /// </summary>
    private static List<FlowProblem> Cycles(FlowGraph graph)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on the path, 2 = done
        var path = new List<string>();
        var found = new List<FlowProblem>();
        foreach (var root in graph.Nodes.Values.OrderBy(n => n.Order))
        {
            if (state.GetValueOrDefault(root.Id) != 0)
            {
                continue;
            }
            var stack = new Stack<(string Id, IEnumerator<FlowEdge> Next)>();
            state[root.Id] = 1;
            path.Add(root.Id);
            stack.Push((root.Id, graph.EdgesOutOf(root.Id).Where(e => !e.IsLoopBack && graph.Nodes.ContainsKey(e.Target)).GetEnumerator()));
            while (stack.Count > 0)
            {
                var (id, next) = stack.Peek();
                if (!next.MoveNext())
                {
                    stack.Pop();
                    path.RemoveAt(path.Count - 1);
                    state[id] = 2;
                    continue;
                }
                var target = next.Current.Target;
                switch (state.GetValueOrDefault(target))
                {
                    case 1:
                        var cycle = path.Skip(path.IndexOf(target)).Append(target);
                        var node = graph.Nodes[target];
                        found.Add(new FlowProblem(node.Id, node.Component, $"The flow has a cycle: {string.Join(" → ", cycle)}. Only Langflow's loop output may feed back."));
                        break;
                    case 0:
                        state[target] = 1;
                        path.Add(target);
                        stack.Push((target, graph.EdgesOutOf(target).Where(e => !e.IsLoopBack && graph.Nodes.ContainsKey(e.Target)).GetEnumerator()));
                        break;
                }
            }
        }
        return found;
    }
}
