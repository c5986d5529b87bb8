using BenchmarkDotNet.Attributes;
using Cmp.Flows.Checks;
using Cmp.Flows.Graph;
using Cmp.Flows.Models;
using Cmp.Flows.Runtime;
using Microsoft.Extensions.AI;

namespace Cmp.Bench;

/// <summary>
/// One run of 1.7 "Basic Prompting" with the dev model, and baselines for the work the dev model itself does,
/// so the runtime's own overhead is the difference. The threading diagnoser counts the thread-pool work items
/// each operation queues, which is where a run's time goes when the model answers instantly.
/// </summary>
[MemoryDiagnoser]
[ThreadingDiagnoser]
public class RunBenchmarks
{
    private const string Input = "Hello";

    private FlowGraph _graph = null!;
    private FlowRuntime _runtime = null!;
    private readonly InMemoryConversationMemory _memory = new();
    private List<ChatMessage> _messages = [];
    private ChatOptions _options = new();
    private string _system = "";
    private string _reply = "";

    [GlobalSetup]
    public async Task Setup()
    {
        var report = FlowChecker.Check(File.ReadAllBytes(Samples.BasicPrompting().FullName));
        if (!report.Runnable)
        {
            throw new InvalidOperationException("1.7 Basic Prompting is not runnable: " + string.Join("; ", report.Problems.Select(p => p.Message)));
        }
        _graph = report.Graph!;
        _runtime = new FlowRuntime(new FlowRuntimeOptions { LlmMode = "dev" });

        // The dev model answers "[dev] <user>\n[system] <system>": the flow's own output gives the exact prompt text it sent.
        var output = (await Run()).Output;
        const string marker = "\n[system] ";
        var at = output.IndexOf(marker, StringComparison.Ordinal);
        if (!output.StartsWith("[dev] " + Input, StringComparison.Ordinal) || at < 0)
        {
            throw new InvalidOperationException($"Unexpected dev-model output: {output}");
        }
        _system = output[(at + marker.Length)..];
        _messages = [new ChatMessage(ChatRole.System, _system), new ChatMessage(ChatRole.User, Input)];
        _options = new ChatOptions { ModelId = "gpt-4o-mini" };
        _reply = DevChatClient.Reply(_messages);
        if (_reply != output)
        {
            throw new InvalidOperationException($"The baseline messages do not reproduce the flow's answer: {_reply} vs {output}");
        }
    }

    /// <summary>The whole run as a host makes it: plan lookup, node scheduling, prompt, model call (streamed), output.</summary>
    [Benchmark]
    public Task<FlowRunResult> Run_BasicPrompting_Dev() => Run();

    /// <summary>Baseline: only the dev model's answer to the messages the flow sends (non-streaming).</summary>
    [Benchmark]
    public Task<ChatResponse> DevModel_GetResponse() => DevChatClient.Instance.GetResponseAsync(_messages, _options);

    /// <summary>
    /// Baseline: the dev model's streaming answer, which is the path the flow actually takes (the model node feeds
    /// the chat output); it yields the thread once per word.
    /// </summary>
    [Benchmark]
    public async Task<int> DevModel_GetStreamingResponse()
    {
        var chunks = 0;
        await foreach (var update in DevChatClient.Instance.GetStreamingResponseAsync(_messages, _options))
        {
            chunks += update.Contents.Count;
        }
        return chunks;
    }

    /// <summary>Baseline: the o200k token counts the dev model makes per call (system, user, reply).</summary>
    [Benchmark]
    public int TokenCounter_Count() => TokenCounter.Count(_system) + TokenCounter.Count(Input) + TokenCounter.Count(_reply);

    private Task<FlowRunResult> Run() =>
        _runtime.RunAsync(_graph, new FlowRunRequest { Input = Input, SessionId = "bench", Memory = _memory });
}
