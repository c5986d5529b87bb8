using System.Text.Json.Nodes;
using Cmp.Flows.Components;
using Cmp.Flows.Graph;

namespace Cmp.Flows.Runtime;

/// <summary>
/// Where a buyer's persona goes when a flow runs on a Langflow server, which takes no persona of its own: the
/// run's <c>tweaks</c> add it to every system text a model of the flow receives, as the built-in runtime does.
/// A model's system field (<c>system_message</c>, or <c>system_prompt</c> on agents and structured output) gets
/// the persona after its own text when nothing is connected to it. Langflow builds a connected field from its
/// edge and ignores a tweak of it, so then the text comes from where it is written: a Prompt's <c>template</c>
/// (with the persona escaped for the template's syntax, so its braces stay literal) or a Text Input's
/// <c>input_value</c>, provided that its text goes only to system fields. A system field fed by anything else
/// (another model's answer, or a Prompt whose text is also a user message) cannot take the persona, which the
/// built-in runtime only ever adds to system text; <see cref="Missed"/> names those nodes.
/// </summary>
public sealed class PersonaTweaks
{
    private static readonly string[] SystemFields = ["system_message", "system_prompt"];

    private sealed record Target(string NodeId, string Field, string Text, PromptTemplate.Syntax? Syntax);

    private readonly List<Target> _targets;

    private PersonaTweaks(List<Target> targets, List<string> missed)
    {
        _targets = targets;
        Missed = missed;
    }

    /// <summary>Model nodes whose system text is computed at run time and so cannot carry the persona.</summary>
    public IReadOnlyList<string> Missed { get; }

    /// <summary>How many places in the flow take the persona.</summary>
    public int Places => _targets.Count;

    /// <summary>Finds the places in a parsed flow.</summary>
    public static PersonaTweaks Plan(FlowGraph graph)
    {
        var targets = new List<Target>();
        var missed = new List<string>();
        foreach (var node in graph.Nodes.Values.OrderBy(n => n.Order))
        {
            foreach (var name in SystemFields)
            {
                if (node.Field(name) is not { } field)
                {
                    continue;
                }
                var edge = graph.EdgesInto(node.Id).FirstOrDefault(e => e.TargetField == name);
                Target? target = null;
                if (edge is null)
                {
                    target = new Target(node.Id, name, FlowParser.Str(field.Value) ?? "", null);
                }
                else if (graph.Nodes.TryGetValue(edge.Source, out var source) && FeedsOnlySystemText(graph, source))
                {
                    // A source whose text also goes elsewhere (a user message, a tool) is left alone: the persona must not follow it there.
                    target = source.Component switch
                    {
                        "Prompt" => new Target(source.Id, "template", PromptComponent.TemplateOf(source), PromptComponent.SyntaxOf(source)),
                        "TextInput" when source.Field("input_value") is { } input => new Target(source.Id, "input_value", FlowParser.Str(input.Value) ?? "", null),
                        _ => null,
                    };
                }
                if (target is null)
                {
                    missed.Add(node.Id);
                }
                else if (!targets.Any(t => t.NodeId == target.NodeId && t.Field == target.Field))
                {
                    targets.Add(target);
                }
            }
        }
        return new PersonaTweaks(targets, missed);
    }

    private static bool FeedsOnlySystemText(FlowGraph graph, FlowNode source) =>
        graph.EdgesOutOf(source.Id).All(e => e.TargetField is { } field && SystemFields.Contains(field));

    /// <summary>Parses the export first; a flow that does not parse takes no tweaks.</summary>
    public static PersonaTweaks Plan(string flowJson) =>
        FlowParser.Parse(flowJson).Graph is { } graph ? Plan(graph) : new PersonaTweaks([], []);

    /// <summary>The run's <c>tweaks</c> object (node id → field → value), or null when there is nothing to add.</summary>
    public JsonObject? Tweaks(string? persona)
    {
        if (string.IsNullOrWhiteSpace(persona) || _targets.Count == 0)
        {
            return null;
        }
        var tweaks = new JsonObject();
        foreach (var t in _targets)
        {
            var added = t.Syntax is { } syntax ? PromptTemplate.Escape(persona, syntax) : persona;
            var value = t.Text.Length == 0 ? added : t.Text + "\n\n" + added;
            if (tweaks[t.NodeId] is not JsonObject fields)
            {
                tweaks[t.NodeId] = fields = new JsonObject();
            }
            fields[t.Field] = value;
        }
        return tweaks;
    }
}
