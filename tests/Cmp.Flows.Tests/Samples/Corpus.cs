using System.Text.Json.Nodes;
using Cmp.Flows.Checks;
using Cmp.Flows.Graph;

namespace Cmp.Flows.Tests.Samples;

/// <summary>The 69 real Langflow exports in ../shared/langflow-samples (or CMP_SAMPLES_DIR).</summary>
public static class Corpus
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("CMP_SAMPLES_DIR") is { Length: > 0 } configured)
        {
            return configured;
        }
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cmp.slnx")))
        {
            dir = dir.Parent;
        }
        var root = dir is null ? null : Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "langflow-samples"));
        return root is not null && Directory.Exists(root)
            ? root
            : throw new DirectoryNotFoundException("The Langflow samples are not at ../shared/langflow-samples; set CMP_SAMPLES_DIR.");
    }

    public static string PathOf(string version, string name) => Path.Combine(Root, version, name + ".json");

    public static string Text(string version, string name) => File.ReadAllText(PathOf(version, name));

    public static JsonObject Json(string version, string name) => JsonNode.Parse(Text(version, name))!.AsObject();

    public static FlowGraph Graph(string version, string name) => Graph(Text(version, name));

    public static FlowGraph Graph(string json)
    {
        var report = FlowChecker.Check(json);
        Assert.True(report.Runnable, string.Join("\n", report.Problems));
        return report.Graph!;
    }

    /// <summary>The node object with the given component type (the first one, or the one with the given id).</summary>
    public static JsonObject Node(JsonObject flow, string component, string? id = null) =>
        flow["data"]!["nodes"]!.AsArray().OfType<JsonObject>()
            .First(n => n["data"]?["type"]?.GetValue<string>() == component && (id is null || n["id"]!.GetValue<string>() == id));

    public static JsonObject Field(JsonObject node, string field) => node["data"]!["node"]!["template"]![field]!.AsObject();

    public static string Id(JsonObject flow, string component) => Node(flow, component)["id"]!.GetValue<string>();
}
