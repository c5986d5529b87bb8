using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;

namespace Cmp.Flows.Components;

/// <summary>Fills the template's variables from edges or from the values saved in the node.</summary>
internal sealed class PromptComponent : FlowComponent
{
    public static PromptTemplate.Syntax SyntaxOf(FlowNode node)
    {
        var mode = node.Field("mode")?.Value?.ToString() ?? "";
        var doubleFlag = node.Field("use_double_brackets")?.Value?.ToString();
        return mode.Contains("{{", StringComparison.Ordinal) || mode.Contains("double", StringComparison.OrdinalIgnoreCase)
            || string.Equals(doubleFlag, "true", StringComparison.OrdinalIgnoreCase)
            ? PromptTemplate.Syntax.DoubleBrackets
            : PromptTemplate.Syntax.SingleBraces;
    }

    public static string TemplateOf(FlowNode node) => FlowParser.Str(node.Field("template")?.Value) ?? "";

    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var text = PromptTemplate.Render(TemplateOf(ctx.Node), SyntaxOf(ctx.Node), name => ctx.Text(name));
        return Task.FromResult(Outputs(("prompt", new FlowMessage(text))));
    }
}
