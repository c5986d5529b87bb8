using System.Text.Json.Nodes;
using Cmp.Flows.Documents;
using Cmp.Flows.Runtime;

namespace Cmp.Flows.Components;

/// <summary>
/// File: the text of the files the host supplies for this node (exports strip the files; sellers
/// upload them with the agent, the CLI takes <c>--file NODE_ID=PATH</c>). Running without one is a refusal.
/// </summary>
internal sealed class FileComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var files = ctx.Run.Request.Files.GetFiles(ctx.Node.Id);
        if (files.Count == 0)
        {
            throw ctx.Fail($"No file was supplied for this File node. Upload one for node {ctx.Node.Id} with the agent, or run with --file {ctx.Node.Id}=PATH.");
        }
        var rows = new List<FlowData>();
        foreach (var file in files)
        {
            string text;
            try
            {
                text = DocumentText.Extract(file.Name, file.Content);
            }
            catch (UnsupportedDocumentException ex)
            {
                if (ctx.Bool("silent_errors", false))
                {
                    continue;
                }
                throw ctx.Fail(ex.Message, ex);
            }
            rows.Add(new FlowData(new JsonObject { ["text"] = text, ["file_path"] = file.Name }));
        }
        var frame = new FlowDataFrame(rows);
        var separator = DataComponentsText.Separator(ctx);
        return Task.FromResult(Outputs(
            ("message", new FlowMessage(string.Join(separator, rows.Select(r => r.Text())))),
            ("data", rows.Count == 1 ? rows[0] : frame),
            ("dataframe", frame)));
    }
}

internal static class DataComponentsText
{
    public static string Separator(NodeContext ctx) => ParseDataComponent.Unescape(ctx.Text("separator", "\n\n"));
}
