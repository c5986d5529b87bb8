using System.Text.Json;
using Cmp.Flows.Checks;
using Cmp.Flows.Cli;
using Cmp.Flows.Security;
using Cmp.Flows.Tests.Samples;

namespace Cmp.Flows.Tests.Cli;

/// <summary><c>flows check</c> and <c>flows run</c> as a seller runs them, on the real samples, in dev mode.</summary>
public sealed class FlowsCliTests : IDisposable
{
    private static readonly string Runnable = Corpus.PathOf("1.7", "Basic Prompting");
    private static readonly string Refused = Corpus.PathOf("1.7", "Research Translation Loop");

    private readonly string _temp = Directory.CreateTempSubdirectory("cmp-flows-cli-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    private static async Task<Outcome> CliAsync(params string[] args)
    {
        // Dev mode: the environment has no CMP_LLM (and no keys).
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await FlowsCli.RunAsync(args, stdout, stderr, name => env.TryGetValue(name, out var v) ? v : null, CancellationToken.None);
        return new Outcome(code, stdout.ToString().Replace("\r\n", "\n", StringComparison.Ordinal), stderr.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    // ---- stock-code (maintainers) ----

    [Fact]
    public async Task StockCode_OnTheSamples_WritesTheCatalogCmpShips()
    {
        var path = Path.Combine(_temp, "stock-code.json");
        var result = await CliAsync("stock-code", Corpus.Root, path);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(StockCodeGenerator.Generate(Corpus.Root), await File.ReadAllTextAsync(path));
    }

    [Theory]
    [InlineData]
    [InlineData("only-one-argument")]
    public async Task StockCode_WithoutAFolderAndAFile_IsAUsageError(params string[] args)
    {
        var result = await CliAsync(["stock-code", .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("SAMPLES_DIR and OUT_FILE", result.Stderr);
    }

    [Fact]
    public async Task StockCode_AFolderWithoutExports_Exits1_AndWritesNothing()
    {
        var path = Path.Combine(_temp, "stock-code.json");
        var result = await CliAsync("stock-code", _temp, path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no <release>/*.json exports", result.Stderr);
        Assert.False(File.Exists(path));
    }

    // ---- check ----

    [Fact]
    public async Task Check_JsonWithARunnableAndARefusedSample_ReportsBothWithSnakeCaseNamesAndExits1()
    {
        var result = await CliAsync("check", "--json", Runnable, Refused);
        Assert.Equal(1, result.ExitCode);

        using var doc = JsonDocument.Parse(result.Stdout);
        var reports = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, reports.Count);
        foreach (var report in reports)
        {
            Assert.Equal(["file", "problems", "runnable"], report.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            foreach (var problem in report.GetProperty("problems").EnumerateArray())
            {
                Assert.Equal(["component", "message", "node_id"], problem.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            }
        }

        var ok = reports[0];
        Assert.Equal(Runnable, ok.GetProperty("file").GetString());
        Assert.True(ok.GetProperty("runnable").GetBoolean());
        Assert.Equal(0, ok.GetProperty("problems").GetArrayLength());

        var refused = reports[1];
        Assert.Equal(Refused, refused.GetProperty("file").GetString());
        Assert.False(refused.GetProperty("runnable").GetBoolean());
        var expected = FlowChecker.Check(File.ReadAllText(Refused)).Problems;
        var problems = refused.GetProperty("problems").EnumerateArray()
            .Select(p => new FlowProblem(p.GetProperty("node_id").GetString(), p.GetProperty("component").GetString(), p.GetProperty("message").GetString()!))
            .ToList();
        Assert.NotEmpty(problems);
        Assert.Equal(expected, problems);
    }

    [Fact]
    public async Task Check_JsonAllRunnable_Exits0()
    {
        var memory = Corpus.PathOf("1.7", "Memory Chatbot");
        var result = await CliAsync("check", "--json", Runnable, memory);
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        Assert.All(doc.RootElement.EnumerateArray(), r => Assert.True(r.GetProperty("runnable").GetBoolean()));
        Assert.Equal(2, doc.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Check_Text_ListsEachFileAndEveryProblemWithItsNode()
    {
        var result = await CliAsync("check", Runnable, Refused);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"OK       {Runnable}\n", result.Stdout);
        Assert.Contains($"REFUSED  {Refused}\n", result.Stdout);
        foreach (var p in FlowChecker.Check(File.ReadAllText(Refused)).Problems)
        {
            Assert.Contains(p.NodeId is null ? $"  - {p.Message}" : $"  - {p.NodeId} ({p.Component}): {p.Message}", result.Stdout);
        }
        Assert.EndsWith("1 of 2 runnable.\n", result.Stdout);
    }

    [Fact]
    public async Task Check_MissingFile_RefusedAndExits1()
    {
        var missing = Path.Combine(_temp, "nope.json");
        var result = await CliAsync("check", missing);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"REFUSED  {missing}", result.Stdout);
        Assert.Contains("The file does not exist.", result.Stdout);
        Assert.Contains("0 of 1 runnable.", result.Stdout);
    }

    [Fact]
    public async Task Check_NoFiles_UsageAndExits2()
    {
        var result = await CliAsync("check", "--json");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Usage:", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    // ---- usage ----

    [Fact]
    public async Task RunAsync_NoArgs_UsageAndExits2()
    {
        var result = await CliAsync();
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Usage:", result.Stderr);
        Assert.Contains("flows check", result.Stderr);
        Assert.Contains("flows run", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task RunAsync_UnknownCommand_NamesItAndExits2()
    {
        var result = await CliAsync("deploy", Runnable);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Unknown command 'deploy'", result.Stderr);
        Assert.Contains("Usage:", result.Stderr);
    }

    // ---- run ----

    [Fact]
    public async Task Run_MemoryChatbotTwoInputs_DevRepliesAndTheSecondTurnRemembersTheFirst()
    {
        const string first = "My name is Ada.";
        const string second = "What is my name?";
        var result = await CliAsync("run", Corpus.PathOf("1.7", "Memory Chatbot"), "--input", first, "--input", second);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("model: dev", result.Stderr);

        Assert.StartsWith($"> {first}\n", result.Stdout);
        var secondAt = result.Stdout.IndexOf($"\n> {second}\n", StringComparison.Ordinal);
        Assert.True(secondAt > 0, result.Stdout);
        var firstReply = result.Stdout[$"> {first}\n".Length..secondAt];
        var secondReply = result.Stdout[(secondAt + $"\n> {second}\n".Length)..];

        Assert.StartsWith("[dev] ", firstReply);
        Assert.StartsWith($"[dev] {second}", secondReply);
        // The first input reaches the second turn's model only through the session's memory.
        Assert.Contains(first, secondReply);
    }

    [Fact]
    public async Task Run_DocumentQaWithFile_TheFileTextReachesTheReply()
    {
        var flow = Corpus.Json("1.7", "Document Q&A");
        var fileNode = Corpus.Id(flow, "File");
        var path = Path.Combine(_temp, "handbook.txt");
        await File.WriteAllTextAsync(path, "Holidays are 30 days a year.");

        var result = await CliAsync("run", Corpus.PathOf("1.7", "Document Q&A"), "--file", $"{fileNode}={path}", "--input", "How many holidays?");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("> How many holidays?\n[dev] How many holidays?", result.Stdout);
        Assert.Contains("Holidays are 30 days a year.", result.Stdout);
    }

    [Fact]
    public async Task Run_DocumentQaWithoutFile_NamesTheNodeAndTheOptionAndExits1()
    {
        var fileNode = Corpus.Id(Corpus.Json("1.7", "Document Q&A"), "File");
        var result = await CliAsync("run", Corpus.PathOf("1.7", "Document Q&A"), "--input", "How many holidays?");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: ", result.Stderr);
        Assert.Contains(fileNode, result.Stderr);
        Assert.Contains("--file", result.Stderr);
    }

    [Fact]
    public async Task Run_NoInput_UsageAndExits2()
    {
        var result = await CliAsync("run", Runnable);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--input", result.Stderr);
        Assert.Contains("Usage:", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Run_RefusedSample_ProblemsOnStderrAndExits1()
    {
        var result = await CliAsync("run", Refused, "--input", "quantum computing");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{Refused} cannot run:", result.Stderr);
        var problems = FlowChecker.Check(File.ReadAllText(Refused)).Problems;
        Assert.NotEmpty(problems);
        foreach (var p in problems)
        {
            Assert.Contains(p.NodeId is null ? $"  - {p.Message}" : $"  - {p.NodeId} ({p.Component}): {p.Message}", result.Stderr);
        }
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Run_FileOptionWithAMissingPath_UsageAndExits2()
    {
        var fileNode = Corpus.Id(Corpus.Json("1.7", "Document Q&A"), "File");
        var missing = Path.Combine(_temp, "missing.txt");
        var result = await CliAsync("run", Corpus.PathOf("1.7", "Document Q&A"), "--file", $"{fileNode}={missing}", "--input", "hi");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--file needs NODE_ID=PATH", result.Stderr);
        Assert.Contains(missing, result.Stderr);
        Assert.Empty(result.Stdout);
    }
}
