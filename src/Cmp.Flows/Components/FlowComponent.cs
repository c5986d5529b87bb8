using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Microsoft.Extensions.AI;

namespace Cmp.Flows.Components;

/// <summary>
/// A Langflow component re-implemented in C#. Stateless: one instance serves every node of its type.
/// <see cref="RunAsync"/> answers the node's outputs by output name.
/// </summary>
internal abstract class FlowComponent
{
    public abstract Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx);

    /// <summary>The node in tool mode, as tools an agent can call.</summary>
    public virtual IEnumerable<AITool> AsTools(NodeContext ctx) =>
        throw ctx.Fail("This component cannot be used as a tool by the CMP runtime.");

    /// <summary>Static checks beyond the generic ones (e.g. a model provider the runtime cannot reach).</summary>
    public virtual IEnumerable<string> Check(FlowNode node) => [];

    protected static IReadOnlyDictionary<string, object?> Outputs(params (string Name, object? Value)[] outputs) =>
        outputs.ToDictionary(o => o.Name, o => o.Value, StringComparer.Ordinal);
}

/// <summary>The components the CMP runtime runs, by Langflow component type.</summary>
internal static class ComponentCatalog
{
    private static readonly Dictionary<string, FlowComponent> Components = new(StringComparer.Ordinal)
    {
        ["ChatInput"] = new ChatInputComponent(),
        ["ChatOutput"] = new ChatOutputComponent(),
        ["TextInput"] = new TextInputComponent(),
        ["TextOutput"] = new TextOutputComponent(),
        ["Prompt"] = new PromptComponent(),
        ["LanguageModelComponent"] = new LanguageModelComponent(),
        ["OpenAIModel"] = new LanguageModelComponent(),
        ["Agent"] = new AgentComponent(),
        ["StructuredOutput"] = new StructuredOutputComponent(),
        ["Memory"] = new MemoryComponent(),
        ["ParseData"] = new ParseDataComponent(),
        ["ParserComponent"] = new ParserComponent(),
        ["parser"] = new ParserComponent(),
        ["SplitText"] = new SplitTextComponent(),
        ["TypeConverterComponent"] = new TypeConverterComponent(),
        ["File"] = new FileComponent(),
        ["URL"] = new UrlComponent(),
        ["URLComponent"] = new UrlComponent(),
        ["CalculatorComponent"] = new CalculatorComponent(),
    };

    public static IReadOnlyCollection<string> Supported => Components.Keys;

    public static FlowComponent? Find(string component) => Components.GetValueOrDefault(component);
}
