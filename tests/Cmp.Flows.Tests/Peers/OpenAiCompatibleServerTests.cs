using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Cmp.Flows.Tests.Peers;

/// <summary>The stand-in OpenAI server, driven through the real OpenAI SDK behind <see cref="IChatClient"/>.</summary>
public sealed class OpenAiCompatibleServerTests : IAsyncLifetime
{
    private const string Key = "sk-test-0123456789abcdef";
    private const string Model = "gpt-4o-mini";
    private OpenAiCompatibleServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await OpenAiCompatibleServer.StartAsync();
        _server.ExpectedApiKey = Key;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IChatClient Client(string key = Key) =>
        new OpenAI.Chat.ChatClient(Model, new ApiKeyCredential(key), new OpenAIClientOptions
        {
            Endpoint = new Uri(_server.BaseUrl),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        }).AsIChatClient();

    [Fact]
    public async Task Non_streaming_answer_carries_the_scripted_text_and_usage()
    {
        _server.Enqueue(ScriptedReply.Text("The capital of France is Paris."));
        var client = Client();

        var response = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "What is the capital of France?")]);

        Assert.Equal("The capital of France is Paris.", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.StartsWith("chatcmpl-", response.ResponseId);
        Assert.Equal(Model, response.ModelId);
        Assert.NotNull(response.Usage);
        Assert.Equal(8, response.Usage.InputTokenCount);   // "Be brief." + "What is the capital of France?"
        Assert.Equal(6, response.Usage.OutputTokenCount);
        Assert.Equal(14, response.Usage.TotalTokenCount);

        var request = Assert.Single(_server.Requests);
        Assert.Equal(Model, request.Model);
        Assert.False(request.Stream);
        Assert.Equal($"Bearer {Key}", request.Authorization);
        Assert.Equal(["system", "user"], request.Messages.Select(m => m.Role));
        Assert.Equal("What is the capital of France?", request.Messages[1].Content);
        Assert.Empty(request.Tools);
        Assert.Null(request.ResponseFormat);
    }

    [Fact]
    public async Task Without_a_script_the_server_echoes_the_last_user_message()
    {
        var response = await Client().GetResponseAsync("hello there");

        Assert.Equal("echo: hello there", response.Text);
    }

    [Fact]
    public async Task Streaming_answer_concatenates_to_the_scripted_text()
    {
        const string Text = "Streaming  works,\nword by word. ";
        _server.Enqueue(ScriptedReply.Text(Text));

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Client().GetStreamingResponseAsync("Stream, please."))
        {
            updates.Add(update);
        }

        Assert.Equal(Text, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 4);
        Assert.Contains(updates, u => u.FinishReason == ChatFinishReason.Stop);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(2, usage.Details.InputTokenCount);
        Assert.Equal(5, usage.Details.OutputTokenCount);

        var request = Assert.Single(_server.Requests);
        Assert.True(request.Stream);
        Assert.True(request.IncludeUsage);
    }

    [Fact]
    public async Task Tool_call_round_trip_through_function_invocation()
    {
        var calls = 0;
        var add = AIFunctionFactory.Create((int a, int b) =>
        {
            calls++;
            return a + b;
        }, "add", "Adds two integers.");
        _server.Enqueue(ScriptedReply.ToolCalls(("add", """{"a":2,"b":3}""")));
        _server.Enqueue(ScriptedReply.Text("2 + 3 = 5"));
        var client = new ChatClientBuilder(Client()).UseFunctionInvocation().Build();

        var response = await client.GetResponseAsync("What is 2 + 3?", new ChatOptions { Tools = [add] });

        Assert.Equal("2 + 3 = 5", response.Text);
        Assert.Equal(1, calls);
        Assert.Equal(2, _server.Requests.Count);
        Assert.Equal(["add"], _server.Requests[0].Tools);

        var second = _server.Requests[1];
        var assistant = Assert.Single(second.Messages, m => m.Role == "assistant");
        var call = Assert.Single(assistant.ToolCalls);
        Assert.StartsWith("call_", call.Id);
        Assert.Equal("add", call.Name);
        var tool = Assert.Single(second.Messages, m => m.Role == "tool");
        Assert.Equal(call.Id, tool.ToolCallId);
        Assert.Equal("5", tool.Content);
        Assert.Equal(0, _server.PendingReplies);
    }

    [Fact]
    public async Task Streaming_tool_call_round_trip_through_function_invocation()
    {
        var add = AIFunctionFactory.Create((int a, int b) => a + b, "add");
        _server.Enqueue(ScriptedReply.ToolCalls(("add", """{"a":40,"b":2}""")));
        _server.Enqueue(ScriptedReply.Text("It is 42."));
        var client = new ChatClientBuilder(Client()).UseFunctionInvocation().Build();

        var text = "";
        await foreach (var update in client.GetStreamingResponseAsync("40 + 2?", new ChatOptions { Tools = [add] }))
        {
            text += update.Text;
        }

        Assert.Equal("It is 42.", text);
        Assert.Equal("42", Assert.Single(_server.Requests[1].Messages, m => m.Role == "tool").Content);
    }

    [Fact]
    public async Task Wrong_api_key_is_rejected_with_401()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client("sk-wrong-key-000000").GetResponseAsync("hi"));

        Assert.Equal(401, e.Status);
        Assert.Contains("invalid_api_key", e.Message);
        Assert.Equal("Bearer sk-wrong-key-000000", Assert.Single(_server.Requests).Authorization);
    }

    [Fact]
    public async Task Scripted_failure_answers_the_status_and_keeps_the_reply_for_the_retry()
    {
        _server.Enqueue(ScriptedReply.Text("after the retry"));
        _server.FailWith = _ => _server.Requests.Count == 1 ? 429 : null;
        _server.RetryAfter = TimeSpan.Zero;
        var client = new OpenAI.Chat.ChatClient(Model, new ApiKeyCredential(Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(_server.BaseUrl),
        }).AsIChatClient();

        var response = await client.GetResponseAsync("hi");

        Assert.Equal("after the retry", response.Text);
        Assert.Equal(2, _server.Requests.Count);

        _server.FailWith = _ => 500;
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client().GetResponseAsync("hi"));
        Assert.Equal(500, e.Status);
    }

    [Fact]
    public async Task Cancelling_a_slow_stream_stops_it_midway()
    {
        _server.ChunkDelay = TimeSpan.FromMilliseconds(100);
        _server.Enqueue(ScriptedReply.Text(string.Join(' ', Enumerable.Range(1, 100).Select(i => $"w{i}"))));
        using var cts = new CancellationTokenSource();

        var received = "";
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in Client().GetStreamingResponseAsync("go", cancellationToken: cts.Token))
            {
                received += update.Text;
                if (received.Length > 0)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.StartsWith("w1", received);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_server.AbortedStreams == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(1, _server.AbortedStreams);
    }
}
