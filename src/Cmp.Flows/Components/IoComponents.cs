using Cmp.Flows.Runtime;

namespace Cmp.Flows.Components;

/// <summary>The user's message enters here (ChatInput); its saved value is only a placeholder.</summary>
internal sealed class ChatInputComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var text = ctx.Run.Plan.InputNodeIds.Contains(ctx.Node.Id) ? ctx.Run.Request.Input : ctx.Text("input_value");
        var name = ctx.Text("sender_name", "User");
        return Task.FromResult(Outputs(("message", new FlowMessage(text, FlowMessage.User, name.Length == 0 ? "User" : name))));
    }
}

/// <summary>Fixed text set by the seller; when a flow has no chat input, the first text input takes the user's message.</summary>
internal sealed class TextInputComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var text = ctx.Run.Plan.InputNodeIds.Contains(ctx.Node.Id) && ctx.Run.Request.Input.Length > 0
            ? ctx.Run.Request.Input
            : ctx.Text("input_value");
        return Task.FromResult(Outputs(("text", new FlowMessage(text, FlowMessage.User, "User"))));
    }
}

/// <summary>The answer: a message from its input (Data and DataFrames rendered as text).</summary>
internal sealed class ChatOutputComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var value = ctx.Value("input_value");
        var template = ctx.Text("data_template", "{text}");
        var text = value switch
        {
            FlowData d => Values.Format(template.Length == 0 ? "{text}" : template, d),
            FlowDataFrame f => string.Join("\n", f.Rows.Select(r => Values.Format(template.Length == 0 ? "{text}" : template, r))),
            _ => Values.ToText(value),
        };
        var name = ctx.Text("sender_name", "AI");
        return Task.FromResult(Outputs(("message", new FlowMessage(text, FlowMessage.Machine, name.Length == 0 ? "AI" : name))));
    }
}

internal sealed class TextOutputComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx) =>
        Task.FromResult(Outputs(("text", new FlowMessage(ctx.Text("input_value")))));
}
