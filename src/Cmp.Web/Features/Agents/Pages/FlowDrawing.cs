using System.Text.Json;

namespace Cmp.Web.Features.Agents.Pages;

/// <summary>A component box where Langflow placed it (export coordinates).</summary>
public sealed record DrawnNode(string Id, string Label, string Component, double X, double Y, double Width, double Height);

/// <summary>A connection between two drawn nodes.</summary>
public sealed record DrawnEdge(string Source, string Target);

/// <summary>
/// What <see cref="FlowGraph"/> draws: the nodes at the positions the export saved (note nodes left out, as the
/// runtime ignores them) and the edges between them. Read leniently: an export the checker refuses is still drawn
/// as far as it has nodes, so its problem nodes can be shown where the seller put them.
/// </summary>
public sealed record FlowDrawing(IReadOnlyList<DrawnNode> Nodes, IReadOnlyList<DrawnEdge> Edges)
{
    private const double DefaultWidth = 320;
    private const double DefaultHeight = 240;

    public double MinX => Nodes.Min(n => n.X);
    public double MinY => Nodes.Min(n => n.Y);
    public double MaxX => Nodes.Max(n => n.X + n.Width);
    public double MaxY => Nodes.Max(n => n.Y + n.Height);

    /// <summary>The drawing of an export, or null when it has no node to draw (not JSON, no <c>data.nodes</c>…).</summary>
    public static FlowDrawing? Read(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException)
        {
            return null;
        }
        using var owned = document;
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : root;
        var nodes = new List<DrawnNode>();
        if (data.TryGetProperty("nodes", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            var fallback = 0;
            foreach (var n in list.EnumerateArray())
            {
                if (n.ValueKind != JsonValueKind.Object || Str(n, "id") is not { Length: > 0 } id || Str(n, "type") == "noteNode")
                {
                    continue;
                }
                var nodeData = n.TryGetProperty("data", out var nd) && nd.ValueKind == JsonValueKind.Object ? nd : default;
                var component = nodeData.ValueKind == JsonValueKind.Object ? Str(nodeData, "type") ?? "" : "";
                var display = nodeData.ValueKind == JsonValueKind.Object && nodeData.TryGetProperty("node", out var inner) && inner.ValueKind == JsonValueKind.Object
                    ? Str(inner, "display_name")
                    : null;
                var (x, y) = n.TryGetProperty("position", out var p) && p.ValueKind == JsonValueKind.Object
                    ? (Num(p, "x") ?? 0, Num(p, "y") ?? 0)
                    : (fallback * (DefaultWidth + 80), 0.0);
                var measured = n.TryGetProperty("measured", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
                var width = Num(n, "width") ?? (measured.ValueKind == JsonValueKind.Object ? Num(measured, "width") : null) ?? DefaultWidth;
                var height = Num(n, "height") ?? (measured.ValueKind == JsonValueKind.Object ? Num(measured, "height") : null) ?? DefaultHeight;
                nodes.Add(new DrawnNode(id, display is { Length: > 0 } ? display : component is { Length: > 0 } ? component : id, component, x, y, width, height));
                fallback++;
            }
        }
        if (nodes.Count == 0)
        {
            return null;
        }
        var known = nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        var edges = new List<DrawnEdge>();
        if (data.TryGetProperty("edges", out var edgeList) && edgeList.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in edgeList.EnumerateArray())
            {
                if (e.ValueKind == JsonValueKind.Object && Str(e, "source") is { } s && Str(e, "target") is { } t && known.Contains(s) && known.Contains(t))
                {
                    edges.Add(new DrawnEdge(s, t));
                }
            }
        }
        return new FlowDrawing(nodes, edges);
    }

    /// <summary>A sentence for screen readers: what the drawing shows, edge by edge.</summary>
    public string Describe(IReadOnlySet<string> problemNodes)
    {
        var byId = Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var text = $"Flow graph: {Nodes.Count} component{(Nodes.Count == 1 ? "" : "s")} and {Edges.Count} connection{(Edges.Count == 1 ? "" : "s")}";
        if (Edges.Count > 0)
        {
            text += ": " + string.Join("; ", Edges.Select(e => $"{byId[e.Source].Label} to {byId[e.Target].Label}"));
        }
        var problems = Nodes.Where(n => problemNodes.Contains(n.Id)).Select(n => n.Label).ToList();
        if (problems.Count > 0)
        {
            text += $". With problems: {string.Join(", ", problems)}";
        }
        return text + ".";
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? Num(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d : null;
}
