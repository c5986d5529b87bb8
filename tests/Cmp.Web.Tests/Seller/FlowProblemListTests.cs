using Bunit;
using Cmp.Flows.Checks;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Agents.Pages;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace Cmp.Web.Tests.Seller;

/// <summary>The Flow tab's parts, rendered with bUnit: the problem list by node and the drawing of the graph.</summary>
public sealed class FlowProblemListTests : BunitContext
{
    public FlowProblemListTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    [Fact]
    public void FlowProblemList_ProblemsOfSeveralNodes_OneRowPerNodeWithComponentAndMessages_FileLevelFirst()
    {
        IReadOnlyList<FlowProblem> problems =
        [
            new("Agent-1", "Agent", "The component 'Agent' (Agent) is not supported by the CMP runtime."),
            new("Prompt-2", "Prompt", "The required field 'template' has no value and no connection."),
            new("Prompt-2", "Prompt", "The field 'context' accepts Message but receives Data from File-3."),
            new(null, null, "The export has no data.edges list."),
        ];

        var list = Render<FlowProblemList>(p => p.Add(c => c.Problems, problems));

        Assert.Contains("4 problems", list.Find("h3").TextContent);
        Assert.Equal(new[] { "Node", "Component", "Problem" }, list.FindAll("thead th").Select(th => th.TextContent));
        var rows = list.FindAll("tbody tr");
        Assert.Equal(3, rows.Count);
        Assert.Equal("Whole file", rows[0].QuerySelector("th")!.TextContent);
        Assert.Contains("no data.edges", rows[0].TextContent);
        var prompt = list.Find("tr[data-node='Prompt-2']");
        Assert.Equal("Prompt-2", prompt.QuerySelector("th[scope=row]")!.TextContent);
        Assert.Equal("Prompt", prompt.QuerySelectorAll("td")[0].TextContent);
        Assert.Equal(2, prompt.QuerySelectorAll("li").Length);
        Assert.Contains("not supported", list.Find("tr[data-node='Agent-1']").TextContent);
    }

    [Fact]
    public void FlowProblemList_NoProblems_RendersNothing()
    {
        var list = Render<FlowProblemList>(p => p.Add(c => c.Problems, []));

        Assert.Empty(list.Markup.Trim());
    }

    [Fact]
    public void FlowProblemList_FromTheImportRefusal_ListsTheCheckersProblems()
    {
        // The page lists what the import operation refused with, read back from its problem details.
        var refusal = FlowOperations.InvalidFlow([new FlowProblem("URL-9", "URL", "The URL 'http://10.0.0.1/' is on a private network.")]);

        var list = Render<FlowProblemList>(p => p.Add(c => c.Problems, FlowOperations.ProblemsOf(refusal)));

        Assert.Contains("private network", list.Find("tr[data-node='URL-9']").TextContent);
    }

    [Fact]
    public void FlowGraph_BasicPromptingSample_DrawsNodesAtTheirPositionsWithoutNotes_AndHighlightsProblemNodes()
    {
        var json = Samples.Text("1.8", "Basic Prompting");
        var model = Samples.NodeId("1.8", "Basic Prompting", "LanguageModelComponent");

        var graph = Render<FlowGraph>(p => p.Add(c => c.Json, json).Add(c => c.ProblemNodes, [model]));

        var svg = graph.Find("svg");
        Assert.Equal("img", svg.GetAttribute("role"));
        var title = graph.Find($"svg title#{svg.GetAttribute("aria-labelledby")}");
        Assert.StartsWith("Flow graph: 4 components and 3 connections", title.TextContent);
        Assert.Contains("With problems: Language Model", title.TextContent);
        Assert.Equal(4, graph.FindAll("g[data-node]").Count); // the two notes are not components
        Assert.Equal(3, graph.FindAll("path[data-edge]").Count);
        Assert.Single(graph.FindAll("g.flow-node-problem"));
        Assert.Equal(model, graph.Find("g.flow-node-problem").GetAttribute("data-node"));
    }

    [Fact]
    public void FlowGraph_NotAnExport_DrawsNothing()
    {
        var graph = Render<FlowGraph>(p => p.Add(c => c.Json, "{ not json"));

        Assert.Empty(graph.FindAll("svg"));
    }
}
