using System.Text.Json.Nodes;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Cmp.Flows.Tests.Samples;

namespace Cmp.Flows.Tests.Runtime;

public sealed class PersonaTweaksTests
{
    private const string Persona = "You are Ada.\nKeep {braces} and {{doubles}} as written.\nAnswer in a formal tone.";

    private static FlowGraph Parse(string version, string name) => FlowParser.Parse(Corpus.Text(version, name)).Graph!;

    private static string Value(FlowGraph graph, string nodeId, string field) => FlowParser.Str(graph.Nodes[nodeId].Field(field)!.Value) ?? "";

    [Fact]
    public void ConnectedPrompt_TakesThePersona_InItsTemplate_WithBracesEscaped()
    {
        var graph = Parse("1.7", "Basic Prompting");
        var tweaks = PersonaTweaks.Plan(graph).Tweaks(Persona)!;

        // The model's system_message is fed by the Prompt: Langflow would ignore a tweak of it, so the Prompt gets it.
        var only = Assert.Single(tweaks);
        Assert.Equal("Prompt-tOH5D", only.Key);
        var template = only.Value!["template"]!.GetValue<string>();
        var original = Value(graph, "Prompt-tOH5D", "template");
        Assert.StartsWith(original + "\n\n", template, StringComparison.Ordinal);
        // Rendered as Langflow renders a template, the persona reads exactly as the buyer wrote it.
        var rendered = PromptTemplate.Render(template, PromptTemplate.Syntax.SingleBraces, name => throw new InvalidOperationException($"no variable {name}"));
        Assert.EndsWith("\n\n" + Persona, rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void UnconnectedSystemField_TakesThePersona_AfterTheSellersText()
    {
        var graph = Parse("1.7", "Simple Agent");
        var tweaks = PersonaTweaks.Plan(graph).Tweaks(Persona)!;
        var prompt = Assert.Single(tweaks).Value!["system_prompt"]!.GetValue<string>();
        Assert.Equal(Value(graph, "Agent-D0Kx2", "system_prompt") + "\n\n" + Persona, prompt);
    }

    [Fact]
    public void TextInputFeedingTheSystemField_TakesThePersona_AndEveryOtherModelToo()
    {
        var graph = Parse("1.8", "Portfolio Website Code Generator");
        var plan = PersonaTweaks.Plan(graph);
        var tweaks = plan.Tweaks(Persona)!;
        Assert.Equal(2, plan.Places);
        Assert.Empty(plan.Missed);
        Assert.Equal(Value(graph, "TextInput-fQKUN", "input_value") + "\n\n" + Persona, tweaks["TextInput-fQKUN"]!["input_value"]!.GetValue<string>());
        Assert.Equal(Value(graph, "StructuredOutput-wsAT3", "system_prompt") + "\n\n" + Persona, tweaks["StructuredOutput-wsAT3"]!["system_prompt"]!.GetValue<string>());
        Assert.Null(tweaks["LanguageModelComponent-DJzkZ"]);
    }

    [Fact]
    public void SystemFieldFedByAnotherModel_IsNamedAsMissed_TheOthersStillTakeIt()
    {
        var plan = PersonaTweaks.Plan(Parse("1.7", "Hybrid Search RAG"));
        Assert.Equal(["StructuredOutput-MyXBb"], plan.Missed);
        var tweaks = plan.Tweaks(Persona)!;
        Assert.Equal(2, plan.Places);
        Assert.Equal(Persona, tweaks["LanguageModelComponent-WUfVa"]!["system_message"]!.GetValue<string>());
        Assert.Null(tweaks["StructuredOutput-MyXBb"]);
    }

    [Fact]
    public void PromptAlsoFeedingAUserMessage_IsLeftAlone_ItsModelIsNamedAsMissed()
    {
        // Prompt-7XC1r is one model's system_message and another model's input: the persona would become user text.
        var plan = PersonaTweaks.Plan(Parse("1.7", "Image Sentiment Analysis"));
        Assert.Equal(["LanguageModelComponent-TSuC2"], plan.Missed);
        Assert.Null(plan.Tweaks(Persona)!["Prompt-7XC1r"]);
        Assert.Equal(2, plan.Places);
    }

    [Fact]
    public void OnePromptPerAgent_EachTakesIt_APromptFeedingTwoModelsOnce()
    {
        Assert.Equal(3, PersonaTweaks.Plan(Parse("1.7", "Sequential Tasks Agents")).Places);
        var chaining = PersonaTweaks.Plan(Parse("1.7", "Basic Prompt Chaining"));
        Assert.Equal(3, chaining.Places);
        Assert.All(chaining.Tweaks(Persona)!, t => Assert.NotNull(t.Value!["template"]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  \n ")]
    public void NoPersona_NoTweaks(string? persona) =>
        Assert.Null(PersonaTweaks.Plan(Parse("1.7", "Basic Prompting")).Tweaks(persona));

    [Fact]
    public void FlowWithoutModels_OrNotAFlow_TakesNoTweaks()
    {
        var noModel = new JsonObject
        {
            ["data"] = new JsonObject
            {
                ["nodes"] = new JsonArray(new JsonObject
                {
                    ["id"] = "ChatInput-1",
                    ["data"] = new JsonObject { ["type"] = "ChatInput", ["node"] = new JsonObject { ["template"] = new JsonObject() } },
                }),
                ["edges"] = new JsonArray(),
            },
        };
        Assert.Null(PersonaTweaks.Plan(noModel.ToJsonString()).Tweaks(Persona));
        Assert.Null(PersonaTweaks.Plan("not json").Tweaks(Persona));
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("{name} and {{name}} and } and {")]
    [InlineData("{{{triple}}}")]
    public void Escape_RendersAsWritten_InSingleBraceTemplates(string text)
    {
        var escaped = PromptTemplate.Escape(text, PromptTemplate.Syntax.SingleBraces);
        Assert.Empty(PromptTemplate.Variables(escaped, PromptTemplate.Syntax.SingleBraces));
        Assert.Equal(text, PromptTemplate.Render(escaped, PromptTemplate.Syntax.SingleBraces, _ => "X"));
    }

    [Theory]
    [InlineData("plain {single}", "plain {single}")]
    [InlineData("{{name}} here", "{ {name}} here")]
    [InlineData("{{{x}}}", "{ { {x}}}")]
    public void Escape_LeavesNoVariable_InDoubleBracketTemplates(string text, string rendered)
    {
        var escaped = PromptTemplate.Escape(text, PromptTemplate.Syntax.DoubleBrackets);
        Assert.Empty(PromptTemplate.Variables(escaped, PromptTemplate.Syntax.DoubleBrackets));
        Assert.Equal(rendered, PromptTemplate.Render(escaped, PromptTemplate.Syntax.DoubleBrackets, _ => "X"));
    }
}
