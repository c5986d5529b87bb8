using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Cmp.Web.Features.Gateway;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Gateway;

/// <summary>A real redis-server (Debian's package, which ./test.sh installs) on a free loopback port, with nothing saved to disk.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Address = $"127.0.0.1:{port}";
    }

    public string Address { get; }

    public static async Task<RedisServer> StartAsync()
    {
        var binary = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed (./test.sh installs Debian's redis-server).");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, port);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer);
                if (Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return server;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException && DateTime.UtcNow < deadline && !process.HasExited)
            {
            }
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"redis-server did not start on port {port}.");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

/// <summary>One server process of a pair sharing a database and a Redis server.</summary>
public sealed class RedisInstance(string redis, string prefix) : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Redis:Configuration"] = redis,
        ["Redis:Prefix"] = prefix,
        ["Gateway:RateLimitPerMinute"] = "4",
        // Long enough that only the broadcast, not the cache's expiry, can explain a refusal on the other process.
        ["Gateway:CacheSeconds"] = "300",
    };
}

/// <summary>Two server processes (two hosts in this test process) over one database and one Redis, as behind a load balancer.</summary>
public sealed class TwoInstances : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;
    public RedisInstance First { get; private set; } = null!;
    public RedisInstance Second { get; private set; } = null!;
    public string Prefix { get; } = "cmptest:" + Guid.NewGuid().ToString("N")[..8] + ":";

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        var prefix = Prefix;
        First = new RedisInstance(Redis.Address, prefix);
        await First.InitializeAsync();
        _ = First.Server;
        Second = new RedisInstance(Redis.Address, prefix) { SharedConnectionString = First.ConnectionString };
        await Second.InitializeAsync();
        _ = Second.Server;
    }

    public async Task DisposeAsync()
    {
        await Second.DisposeAsyncCore();
        await First.DisposeAsyncCore();
        await Redis.DisposeAsync();
    }
}

public sealed class SharedInstancesTests(TwoInstances pair) : IClassFixture<TwoInstances>
{
    private static int Remaining(HttpResponseMessage response) =>
        int.Parse(response.Headers.GetValues("RateLimit-Remaining").Single(), CultureInfo.InvariantCulture);

    [Fact]
    public async Task OneResourcesRateLimit_IsCountedAcrossProcesses()
    {
        var world = await BuyerWorld.CreateAsync(new Api(pair.First), "Basic Prompting");
        var key = await world.KeyAsync();
        var first = pair.First.CreateClient();
        var second = pair.Second.CreateClient();
        // 4 a minute, whichever process answers: each call sees what the other took.
        for (var i = 0; i < 4; i++)
        {
            var answer = await (i % 2 == 0 ? first : second).SendAsync(BuyerWorld.Invoke(key, new { input = $"call {i}" }));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(3 - i, Remaining(answer));
        }
        foreach (var client in new[] { first, second })
        {
            var limited = await client.SendAsync(BuyerWorld.Invoke(key, new { input = "one too many" }));
            await Json.ProblemAsync(limited, HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
            Assert.Equal("0", limited.Headers.GetValues("RateLimit-Remaining").Single());
            Assert.True(limited.Headers.RetryAfter!.Delta >= TimeSpan.FromSeconds(1));
        }
        // Another key of the same resource shares the resource's bucket, on both processes; another resource has its own.
        var other = await world.KeyAsync("secret", "other");
        await Json.ProblemAsync(await second.SendAsync(BuyerWorld.Invoke(other, new { input = "same resource" })), HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        var elsewhere = await BuyerWorld.CreateAsync(new Api(pair.First), "Basic Prompting");
        Assert.Equal(3, Remaining(await second.SendAsync(BuyerWorld.Invoke(await elsewhere.KeyAsync(), new { input = "fresh" }))));
    }

    [Fact]
    public async Task ACapOfFive_FortyParallelCallsOverBothProcesses_AcceptFive_Exactly()
    {
        var plan = new
        {
            name = "Five",
            currency = "EUR",
            rate_limit_per_minute = 1000,
            components = new object[] { new { billing_type = "LIMIT", name = "Included", measured_unit = "invocation", price = "0", limit_amount = 5 } },
        };
        var world = await BuyerWorld.CreateAsync(new Api(pair.First), "Basic Prompting", plan);
        var key = await world.KeyAsync();
        var clients = new[] { pair.First.CreateClient(), pair.Second.CreateClient() };
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => clients[i % 2].SendAsync(BuyerWorld.Invoke(key, new { input = $"call {i}" }))));
        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.TooManyRequests, a.StatusCode));
        var configId = Guid.ParseExact(world.Config, "N");
        Assert.Equal(5, await pair.First.WithDbAsync(db => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(db.UsageRecords, u => u.ConfigId == configId)));
    }

    [Fact]
    public async Task AKeyRevokedThroughOneProcess_IsRefusedByTheOther_OnItsNextCall()
    {
        var world = await BuyerWorld.CreateAsync(new Api(pair.First), "Basic Prompting");
        var key = await world.KeyAsync();
        var second = pair.Second.CreateClient();
        // The second process has the key in its cache, for 300 s.
        await Json.ReadAsync(await second.SendAsync(BuyerWorld.Invoke(key, new { input = "before" })), HttpStatusCode.OK);
        var generation = pair.Second.Services.GetRequiredService<WriteGeneration>();
        var before = generation.Current;
        // A listener of our own on the channel sees what the first process publishes.
        await using var listener = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(pair.Redis.Address);
        var published = 0;
        await listener.GetSubscriber().SubscribeAsync(StackExchange.Redis.RedisChannel.Literal(pair.Prefix + "writes"), (_, _) => Interlocked.Increment(ref published));

        var keys = await Json.ReadArrayAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/"));
        Assert.Equal(HttpStatusCode.NoContent, (await world.Buyer.Client.DeleteAsync($"/api/customer-agent-configs/{world.Config}/api_keys/{keys[0]!["uuid"]!.GetValue<string>()}/")).StatusCode);
        // The first process's write reaches the second over Redis (a message, not a timer).
        var heard = DateTime.UtcNow.AddSeconds(10);
        while ((generation.Current == before || Volatile.Read(ref published) == 0) && DateTime.UtcNow < heard)
        {
            await Task.Delay(10);
        }
        Assert.True(generation.Current > before, "the second process never heard of the write");
        Assert.True(Volatile.Read(ref published) >= 1, "the first process published nothing");
        await Json.ProblemAsync(await second.SendAsync(BuyerWorld.Invoke(key, new { input = "after" })), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
    }

    [Fact]
    public async Task AWidgetSessionOpenedOnOneProcess_WorksOnTheOther()
    {
        var world = await BuyerWorld.CreateAsync(new Api(pair.First), "Basic Prompting");
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "acme.com" } }), HttpStatusCode.OK);
        var publishable = await world.KeyAsync("publishable", "site");
        var open = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/widget-session/") { Content = JsonContent.Create(new { widget_id = world.Config, api_key = publishable }) };
        open.Headers.Add("Origin", "https://acme.com");
        var token = (await Json.ReadAsync(await pair.First.CreateClient().SendAsync(open), HttpStatusCode.OK))["token"]!.GetValue<string>();
        var ask = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(new { input = "Hi" }) };
        ask.Headers.Authorization = new("Bearer", token);
        ask.Headers.Add("Origin", "https://acme.com");
        await Json.ReadAsync(await pair.Second.CreateClient().SendAsync(ask), HttpStatusCode.OK);
    }
}

/// <summary>Redis configured but unreachable (nothing listens on the port).</summary>
public sealed class UnreachableRedisFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=300",
        ["Gateway:RateLimitPerMinute"] = "2",
    };
}

public sealed class UnreachableRedisTests(UnreachableRedisFactory factory) : IClassFixture<UnreachableRedisFactory>
{
    [Fact]
    public async Task WhileRedisIsDown_TheGatewayAnswers_AndEachProcessLimitsOnItsOwn()
    {
        var api = new Api(factory);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting");
        var key = await world.KeyAsync();
        await Json.ReadAsync(await api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "one" })), HttpStatusCode.OK);
        await Json.ReadAsync(await api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "two" })), HttpStatusCode.OK);
        await Json.ProblemAsync(await api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "three" })), HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        Assert.Contains(factory.Logs, line => line.Contains("Redis cannot be reached for rate limits", StringComparison.Ordinal));
    }
}
