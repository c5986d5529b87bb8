using Cmp.Flows.Components;
using Cmp.Flows.Graph;
using Cmp.Flows.Models;
using Cmp.Flows.Runtime;

namespace Cmp.Flows.Checks;

/// <summary>What a seller sees after an import: the flow's shape, the variables it needs and the files it reads.</summary>
public sealed record FlowSummary(
    int Nodes,
    int Edges,
    IReadOnlyList<string> Components,
    IReadOnlyList<FlowSummary.Port> Inputs,
    IReadOnlyList<FlowSummary.Port> Outputs,
    IReadOnlyList<string> PromptVariables,
    IReadOnlyList<string> Variables,
    IReadOnlyList<string> ModelKeyVariables,
    IReadOnlyList<string> FileNodes)
{
    public sealed record Port(string NodeId, string Component);

    public static FlowSummary Of(FlowGraph graph, string defaultModel = "gpt-4o-mini")
    {
        var nodes = graph.Nodes.Values.OrderBy(n => n.Order).ToList();
        var variables = new SortedSet<string>(StringComparer.Ordinal);
        var modelKeys = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            foreach (var field in node.Fields.Values.Where(f => f.LoadFromDb && f.HasValue))
            {
                if (FlowParser.Str(field.Value) is { Length: > 0 } name)
                {
                    variables.Add(name);
                }
            }
            if (ModelSpecs.FromNode(node, defaultModel) is { ApiKeyIsVariable: true, ApiKey: { } key } spec && !spec.IsOllama)
            {
                variables.Add(key);
                modelKeys.Add(key);
            }
        }
        var promptVariables = nodes.Where(n => n.Component == "Prompt")
            .SelectMany(n => PromptTemplate.Variables(PromptComponent.TemplateOf(n), PromptComponent.SyntaxOf(n))
                .Where(v => !graph.EdgesInto(n.Id).Any(e => e.TargetField == v)))
            .Distinct()
            .ToList();
        return new FlowSummary(
            nodes.Count,
            graph.Edges.Count,
            nodes.Select(n => n.Component).Distinct().ToList(),
            nodes.Where(n => n.Component is "ChatInput" or "TextInput").Select(n => new Port(n.Id, n.Component)).ToList(),
            nodes.Where(n => FlowPlan.OutputComponents.Contains(n.Component)).Select(n => new Port(n.Id, n.Component)).ToList(),
            promptVariables,
            variables.ToList(),
            modelKeys.ToList(),
            nodes.Where(n => n.Component == "File").Select(n => n.Id).ToList());
    }
}
