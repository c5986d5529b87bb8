using System.Text.Json;
using System.Text.Json.Serialization;
using Cmp.Flows.Checks;
using Cmp.Flows.Runtime;
using Cmp.Flows.Security;

namespace Cmp.Flows.Cli;

/// <summary>
/// <c>flows check [--json] FILE...</c> and <c>flows run FILE [--file NODE_ID=PATH]... --input TEXT [--input TEXT]...</c>:
/// what a seller runs before uploading. Exit codes: 0 all good, 1 a flow was refused or failed, 2 usage error.
/// <c>flows stock-code SAMPLES_DIR OUT_FILE</c> is for CMP's maintainers: it regenerates the stock code catalog.
/// </summary>
public static class FlowsCli
{
    public const string Usage = """
        Usage:
          flows check [--json] FILE...
          flows run FILE [--file NODE_ID=PATH]... --input TEXT [--input TEXT]...
          flows stock-code SAMPLES_DIR OUT_FILE   (maintainers: Langflow's stock code from <release>/*.json exports)

        Environment: CMP_LLM=dev|live (default dev), OPENAI_BASE_URL, and any variable a flow names
        (e.g. OPENAI_API_KEY) for live mode.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> env, CancellationToken ct = default)
    {
        if (args.Length == 0)
        {
            await stderr.WriteLineAsync(Usage);
            return 2;
        }
        return args[0] switch
        {
            "check" => await CheckAsync(args[1..], stdout, stderr),
            "run" => await RunFlowAsync(args[1..], stdout, stderr, env, ct),
            "stock-code" => await StockCodeAsync(args[1..], stdout, stderr, ct),
            _ => Fail(stderr, $"Unknown command '{args[0]}'."),
        };
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine(message);
        stderr.WriteLine(Usage);
        return 2;
    }

    public sealed record FileReport(
        [property: JsonPropertyName("file")] string File,
        [property: JsonPropertyName("runnable")] bool Runnable,
        [property: JsonPropertyName("problems")] IReadOnlyList<ProblemReport> Problems);

    public sealed record ProblemReport(
        [property: JsonPropertyName("node_id")] string? NodeId,
        [property: JsonPropertyName("component")] string? Component,
        [property: JsonPropertyName("message")] string Message);

    private static async Task<int> CheckAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var json = args.Contains("--json");
        var files = args.Where(a => a != "--json").ToList();
        if (files.Count == 0)
        {
            return Fail(stderr, "flows check needs at least one FILE.");
        }
        var reports = new List<FileReport>();
        foreach (var file in files)
        {
            FlowCheckReport report;
            if (!File.Exists(file))
            {
                report = new FlowCheckReport(null, [new FlowProblem(null, null, "The file does not exist.")]);
            }
            else
            {
                report = new FileInfo(file).Length > Graph.FlowParser.MaxBytes
                    ? new FlowCheckReport(null, [new FlowProblem(null, null, $"The export is {new FileInfo(file).Length / 1024 / 1024.0:0.0} MB; the limit is 5 MB.")])
                    : FlowChecker.Check(await File.ReadAllBytesAsync(file));
            }
            reports.Add(new FileReport(file, report.Runnable, report.Problems.Select(p => new ProblemReport(p.NodeId, p.Component, p.Message)).ToList()));
        }
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(reports, new JsonSerializerOptions
            {
                WriteIndented = true,
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            }));
        }
        else
        {
            foreach (var r in reports)
            {
                await stdout.WriteLineAsync(r.Runnable ? $"OK       {r.File}" : $"REFUSED  {r.File}");
                foreach (var p in r.Problems)
                {
                    await stdout.WriteLineAsync(p.NodeId is null ? $"  - {p.Message}" : $"  - {p.NodeId} ({p.Component}): {p.Message}");
                }
            }
            await stdout.WriteLineAsync($"{reports.Count(r => r.Runnable)} of {reports.Count} runnable.");
        }
        return reports.All(r => r.Runnable) ? 0 : 1;
    }

    /// <summary>Writes the stock code catalog made from a folder of exports (<see cref="StockCodeGenerator"/>).</summary>
    private static async Task<int> StockCodeAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (args.Length != 2)
        {
            return Fail(stderr, "flows stock-code needs SAMPLES_DIR and OUT_FILE.");
        }
        if (!Directory.Exists(args[0]))
        {
            await stderr.WriteLineAsync($"{args[0]}: the folder does not exist.");
            return 1;
        }
        string catalog;
        try
        {
            catalog = StockCodeGenerator.Generate(args[0]);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException)
        {
            await stderr.WriteLineAsync($"{args[0]}: {ex.Message}");
            return 1;
        }
        await File.WriteAllTextAsync(args[1], catalog, ct);
        await stdout.WriteLineAsync($"Wrote {args[1]} ({catalog.Length / 1024} KB).");
        return 0;
    }

    private static async Task<int> RunFlowAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> env, CancellationToken ct)
    {
        string? path = null;
        var inputs = new List<string>();
        var files = new Dictionary<string, List<FlowFile>>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--input" when i + 1 < args.Length:
                    inputs.Add(args[++i]);
                    break;
                case "--file" when i + 1 < args.Length:
                    var spec = args[++i];
                    var eq = spec.IndexOf('=');
                    if (eq <= 0 || !File.Exists(spec[(eq + 1)..]))
                    {
                        return Fail(stderr, $"--file needs NODE_ID=PATH to an existing file, not '{spec}'.");
                    }
                    var node = spec[..eq];
                    var filePath = spec[(eq + 1)..];
                    if (!files.TryGetValue(node, out var list))
                    {
                        files[node] = list = [];
                    }
                    list.Add(new FlowFile(Path.GetFileName(filePath), await File.ReadAllBytesAsync(filePath, ct)));
                    break;
                case var a when a.StartsWith("--", StringComparison.Ordinal):
                    return Fail(stderr, $"Unknown or incomplete option '{a}'.");
                default:
                    if (path is not null)
                    {
                        return Fail(stderr, "flows run takes one FILE.");
                    }
                    path = args[i];
                    break;
            }
        }
        if (path is null || inputs.Count == 0)
        {
            return Fail(stderr, "flows run needs a FILE and at least one --input.");
        }
        if (!File.Exists(path))
        {
            await stderr.WriteLineAsync($"{path}: the file does not exist.");
            return 1;
        }
        var report = FlowChecker.Check(await File.ReadAllBytesAsync(path, ct));
        if (!report.Runnable)
        {
            await stderr.WriteLineAsync($"{path} cannot run:");
            foreach (var p in report.Problems)
            {
                await stderr.WriteLineAsync(p.NodeId is null ? $"  - {p.Message}" : $"  - {p.NodeId} ({p.Component}): {p.Message}");
            }
            return 1;
        }
        var mode = env("CMP_LLM") is { Length: > 0 } m ? m : "dev";
        var runtime = new FlowRuntime(new FlowRuntimeOptions { LlmMode = mode, OpenAiBaseUrl = env("OPENAI_BASE_URL") });
        var memory = new InMemoryConversationMemory();
        var session = Guid.NewGuid().ToString("N");
        var secrets = new EnvironmentSecrets(env);
        if (!runtime.Options.IsLive)
        {
            await stderr.WriteLineAsync("(model: dev — the deterministic offline model; set CMP_LLM=live for real models)");
        }
        foreach (var input in inputs)
        {
            await stdout.WriteLineAsync($"> {input}");
            try
            {
                var request = new FlowRunRequest
                {
                    Input = input,
                    SessionId = session,
                    Memory = memory,
                    Secrets = secrets,
                    Files = new DictionaryFileProvider(files.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<FlowFile>)kv.Value)),
                };
                FlowRunResult? result = null;
                await foreach (var e in runtime.RunStreamingAsync(report.Graph!, request, ct))
                {
                    if (e is FlowTokenEvent token)
                    {
                        await stdout.WriteAsync(token.Text);
                    }
                    else if (e is FlowCompletedEvent done)
                    {
                        result = done.Result;
                    }
                }
                await stdout.WriteLineAsync();
                await memory.AppendAsync(session, result!.NewMessages, ct);
                await stderr.WriteLineAsync($"({result.Usage.InputTokens} input tokens, {result.Usage.OutputTokens} output tokens, {result.Elapsed.TotalMilliseconds:0} ms)");
            }
            catch (FlowRunException ex)
            {
                await stdout.WriteLineAsync();
                await stderr.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }
        }
        return 0;
    }

    private sealed class EnvironmentSecrets(Func<string, string?> env) : ISecretProvider
    {
        public string? Get(string name) => env(name);
    }
}
