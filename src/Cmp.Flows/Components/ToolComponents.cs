using System.ComponentModel;
using System.Text.Json.Nodes;
using AngleSharp.Html.Parser;
using Cmp.Flows.Graph;
using Cmp.Flows.Runtime;
using Cmp.Flows.Security;
using Microsoft.Extensions.AI;

namespace Cmp.Flows.Components;

internal static class ToolNames
{
    /// <summary>The tool name Langflow saved in <c>tools_metadata</c>, else the default.</summary>
    public static (string Name, string Description) Of(FlowNode node, string name, string description)
    {
        var meta = (node.Field("tools_metadata")?.Value as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var saved = FlowParser.Str(meta?["name"]);
        var savedDescription = FlowParser.Str(meta?["description"]);
        return (string.IsNullOrWhiteSpace(saved) ? name : saved, string.IsNullOrWhiteSpace(savedDescription) ? description : savedDescription);
    }
}

/// <summary>Calculator: arithmetic through a safe evaluator (never code evaluation); a tool in tool mode.</summary>
internal sealed class CalculatorComponent : FlowComponent
{
    public override Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var result = SafeCalculator.Evaluate(ctx.Text("expression"));
        var data = result.Ok ? new JsonObject { ["result"] = result.Text } : new JsonObject { ["error"] = result.Error, ["input"] = ctx.Text("expression") };
        return Task.FromResult(Outputs(("result", new FlowData(data))));
    }

    public override IEnumerable<AITool> AsTools(NodeContext ctx)
    {
        var (name, description) = ToolNames.Of(ctx.Node, "evaluate_expression", "Perform basic arithmetic operations on a given expression.");
        yield return AIFunctionFactory.Create(
            ([Description("The arithmetic expression to evaluate (e.g., '4*4*(33/22)+12-20').")] string expression) =>
            {
                var result = SafeCalculator.Evaluate(expression);
                return result.Ok ? result.Text : result.Error ?? "Invalid expression";
            },
            name,
            description);
    }
}

/// <summary>URL / URLComponent: fetches pages through the SSRF guard and answers their text.</summary>
internal sealed class UrlComponent : FlowComponent
{
    public override async Task<IReadOnlyDictionary<string, object?>> RunAsync(NodeContext ctx)
    {
        var rows = await FetchAsync(ctx, Urls(ctx.Value("urls")));
        var frame = new FlowDataFrame(rows);
        var text = string.Join("\n\n", rows.Select(r => r.Text()));
        return Outputs(("page_results", frame), ("data", frame), ("raw_results", new FlowMessage(text)), ("text", new FlowMessage(text)));
    }

    public override IEnumerable<AITool> AsTools(NodeContext ctx)
    {
        var (name, description) = ToolNames.Of(ctx.Node, "fetch_content", "Fetch the content of one or more web pages.");
        yield return AIFunctionFactory.Create(
            async ([Description("Enter one or more URLs to crawl, separated by commas.")] string urls, CancellationToken ct) =>
            {
                var rows = await FetchAsync(ctx, Urls(urls));
                return string.Join("\n\n", rows.Select(r => $"{r.Get("url")}\n{r.Text()}"));
            },
            name,
            description);
    }

    /// <summary>URLs as saved (a list, or text with commas/brackets); a missing scheme means https.</summary>
    internal static List<string> Urls(object? value)
    {
        var raw = value switch
        {
            IEnumerable<object?> list => list.Select(Values.ToText),
            _ => Values.ToText(value).Split([',', '\n', ' '], StringSplitOptions.RemoveEmptyEntries),
        };
        return raw.Select(u => u.Trim().Trim('[', ']', '"', '\'').Trim())
            .Where(u => u.Length > 0)
            .Select(u => u.Contains("://", StringComparison.Ordinal) ? u : "https://" + u)
            .Distinct()
            .Take(20)
            .ToList();
    }

    private static async Task<List<FlowData>> FetchAsync(NodeContext ctx, List<string> urls)
    {
        var continueOnFailure = ctx.Bool("continue_on_failure", true);
        var asHtml = ctx.Text("format", "Text").Contains("HTML", StringComparison.OrdinalIgnoreCase);
        var timeout = TimeSpan.FromSeconds(Math.Clamp(ctx.Int("timeout", 30), 1, 120));
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var row in Values.ToRows(ctx.Value("headers")))
        {
            if (row.Get("key") is { Length: > 0 } key)
            {
                headers[key] = row.Get("value");
            }
        }
        var options = new SsrfOptions { AllowPrivateNetworks = ctx.Run.Runtime.Options.AllowPrivateNetworks, Timeout = timeout };
        var rows = new List<FlowData>();
        foreach (var url in urls)
        {
            try
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
                {
                    throw new ArgumentException($"'{url}' is not a valid URL.");
                }
                using var perRequest = CancellationTokenSource.CreateLinkedTokenSource(ctx.Ct);
                perRequest.CancelAfter(timeout);
                var page = await SsrfGuard.FetchAsync(ctx.Run.Runtime.UrlClient, uri, options, headers, perRequest.Token);
                var isHtml = page.ContentType?.Contains("html", StringComparison.OrdinalIgnoreCase) ?? page.Body.TrimStart().StartsWith('<');
                var (title, text) = isHtml && !asHtml ? HtmlText(page.Body) : ("", page.Body);
                rows.Add(new FlowData(new JsonObject
                {
                    ["text"] = text,
                    ["url"] = page.FinalUrl.ToString(),
                    ["title"] = title,
                    ["content_type"] = page.ContentType ?? "",
                    ["status_code"] = page.StatusCode,
                }));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ctx.Ct.IsCancellationRequested)
            {
                if (!continueOnFailure)
                {
                    throw ctx.Fail($"Fetching {url} failed: {ex.Message}", ex);
                }
                rows.Add(new FlowData(new JsonObject { ["text"] = "", ["url"] = url, ["error"] = ex.Message }));
            }
        }
        return rows;
    }

    /// <summary>The page's readable text: scripts and styles dropped, whitespace collapsed.</summary>
    internal static (string Title, string Text) HtmlText(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        foreach (var element in document.QuerySelectorAll("script, style, noscript, template").ToList())
        {
            element.Remove();
        }
        var text = document.Body?.TextContent ?? document.DocumentElement.TextContent;
        var lines = text.Split('\n').Select(l => string.Join(' ', l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))).Where(l => l.Length > 0);
        return (document.Title ?? "", string.Join("\n", lines));
    }
}
