using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.Agents;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The real application, with tight visitor and failed-credential limits, and the built-in runtime behind a gate the
/// test can close: runs started while it is closed stream their first token, then wait until it opens (as a slow
/// model would), so concurrent calls really overlap.
/// </summary>
public sealed class MoneyRulesFactory : CmpFactory
{
    public GatedRuntime Runtime { get; private set; } = null!;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:WidgetVisitorPerMinute"] = "3",
        ["Gateway:FailedAuthPerMinute"] = "5",
        ["Gateway:RateLimitPerMinute"] = "1000",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s => s.AddSingleton<IAgentRuntime>(sp => Runtime = new GatedRuntime(sp.GetRequiredService<BuiltinAgentRuntime>())));
    }
}

/// <summary>The built-in runtime with a gate after the first token, and an optional failure after it.</summary>
public sealed class GatedRuntime(IAgentRuntime inner) : IAgentRuntime
{
    private TaskCompletionSource _gate = Open();
    private int _started;

    public string Name => inner.Name;

    /// <summary>Set: each run fails after its first token with this (as a model failing mid-answer would).</summary>
    public Func<FlowRunException>? FailAfterFirstToken { get; set; }

    public int Started => Volatile.Read(ref _started);

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    /// <summary>Runs from now on hold after their first token until <see cref="Release"/>.</summary>
    public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate.TrySetResult();

    public Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct) => inner.DeployAsync(version, ct);

    public async IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        Interlocked.Increment(ref _started);
        var gate = _gate.Task;
        var first = true;
        await foreach (var e in inner.InvokeAsync(version, request, ct))
        {
            yield return e;
            if (first && e is FlowTokenEvent)
            {
                first = false;
                await gate.WaitAsync(ct);
                if (FailAfterFirstToken is { } fail)
                {
                    throw fail();
                }
            }
        }
    }
}

/// <summary>Helpers for the gateway's money rules: streamed calls read as a client would, widget sessions.</summary>
internal static class GatewayCalls
{
    /// <summary>Reads a stream until <paramref name="marker"/> (or its end); the whole text read.</summary>
    public static async Task<string> ReadUntilAsync(HttpResponseMessage response, string? marker, CancellationToken ct)
    {
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        var text = new StringBuilder();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            text.Append(line).Append('\n');
            if (marker is not null && line.StartsWith(marker, StringComparison.Ordinal))
            {
                break;
            }
        }
        return text.ToString();
    }

    public static HttpRequestMessage Stream(string key, string input, string? idempotencyKey = null, string? origin = null)
    {
        var request = Buyer.BuyerWorld.Invoke(key, new { input, stream = true }, idempotencyKey);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        return request;
    }

    public static HttpRequestMessage Widget(string token, string origin, object body, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new("Bearer", token);
        request.Headers.Add("Origin", origin);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        return request;
    }

    /// <summary>Opens a widget session from <paramref name="origin"/>; its token and conversation handle.</summary>
    public static async Task<(string Token, string Conversation)> SessionAsync(HttpClient client, string config, string publishable, string origin, string? conversation = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/widget-session/")
        {
            Content = JsonContent.Create(new { widget_id = config, api_key = publishable, conversation }),
        };
        request.Headers.Add("Origin", origin);
        var session = await Json.ReadAsync(await client.SendAsync(request), HttpStatusCode.OK);
        return (session["token"]!.GetValue<string>(), session["conversation"]!.GetValue<string>());
    }

    /// <summary>Waits (bounded, against a hang only) until <paramref name="done"/> holds; nothing here is timed.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(20);
        }
    }
}
