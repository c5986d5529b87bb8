using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Cmp.Web.Tests.Buyer;

/// <summary>
/// Failures on the way: a fulfilment the database refuses, a slow agent behind a stream. Its own class, so its own
/// database: the failure injected here (a trigger) reaches no other test.
/// </summary>
public sealed class FailureTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [Fact]
    public async Task AFulfilmentTheDatabaseRefuses_EndsInErred_WithAReason_AndCreatesNothing()
    {
        var (seller, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting", requiresProviderApproval: true);
        var (buyer, customer, project) = await BuyerWorld.NewBuyerAsync(_api);
        var order = await Json.ReadAsync(await buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
        Assert.Equal("PENDING_PROVIDER", order["state"]!.GetValue<string>());
        var uuid = order["uuid"]!.GetValue<string>();

        var postgres = await factory.WithDbAsync(db => Task.FromResult(!db.Database.IsSqlite()));
        await factory.WithDbAsync(db => db.Database.ExecuteSqlRawAsync(postgres
            ? """
              CREATE FUNCTION refuse_resources() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no room for resources'; END $$;
              CREATE TRIGGER refuse_resources BEFORE INSERT ON resources FOR EACH ROW EXECUTE FUNCTION refuse_resources();
              """
            : "CREATE TRIGGER refuse_resources BEFORE INSERT ON resources BEGIN SELECT RAISE(ABORT, 'no room for resources'); END;"));
        try
        {
            var erred = await Json.ReadAsync(await seller.Owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_provider/", null), HttpStatusCode.OK);
            Assert.Equal("ERRED", erred["state"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(erred["error_message"]!.GetValue<string>()));
            Assert.Null(erred["resource_uuid"]);
        }
        finally
        {
            await factory.WithDbAsync(db => db.Database.ExecuteSqlRawAsync(postgres
                ? "DROP TRIGGER refuse_resources ON resources; DROP FUNCTION refuse_resources();"
                : "DROP TRIGGER refuse_resources;"));
        }

        // Nothing half-made: no resource, no config; an ERRED order is final.
        Assert.Empty(await Json.ReadArrayAsync(await buyer.Client.GetAsync($"/api/marketplace-resources/?customer_uuid={customer}")));
        var orderId = Guid.ParseExact(uuid, "N");
        Assert.False(await factory.WithDbAsync(db => db.Resources.AnyAsync(r => r.OrderId == orderId)));
        await Json.ProblemAsync(await seller.Owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_provider/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Equal("ERRED", (await Json.ReadAsync(await buyer.Client.GetAsync($"/api/marketplace-orders/{uuid}/"), HttpStatusCode.OK))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task ASlowAgent_KeepsTheStreamAliveWithComments_AQuickOneSendsNone()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        // No wall clock: the keep-alive timer runs on a fake clock moved by hand, and the agent answers when released.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var slow = factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s
            .AddSingleton<TimeProvider>(clock)
            .AddSingleton<IAgentRuntime>(sp => new HeldBack(sp.GetRequiredService<BuiltinAgentRuntime>(), release.Task))));
        var client = slow.CreateClient();
        using var hang = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // only against a hang; nothing here is timed
        using var response = await client.SendAsync(BuyerWorld.Invoke(key, new { input = "Take your time", stream = true }), HttpCompletionOption.ResponseHeadersRead, hang.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(hang.Token));
        var text = new StringBuilder();
        async Task ReadUntilAsync(string marker, int count)
        {
            while (Regex.Count(text.ToString(), Regex.Escape(marker)) < count)
            {
                var line = await reader.ReadLineAsync(hang.Token) ?? throw new InvalidOperationException("The stream ended early: " + text);
                text.Append(line).Append('\n');
            }
        }

        await ReadUntilAsync(": stream open", 1);
        clock.Advance(TimeSpan.FromSeconds(15)); // the default interval
        await ReadUntilAsync(": keep-alive", 1);
        clock.Advance(TimeSpan.FromSeconds(15));
        await ReadUntilAsync(": keep-alive", 2);
        release.SetResult();
        await ReadUntilAsync("event: end", 1);
        var all = text.ToString();
        Assert.True(all.IndexOf(": keep-alive", StringComparison.Ordinal) < all.IndexOf("event: token", StringComparison.Ordinal), all);
        Assert.Equal(2, Regex.Count(all, "^: keep-alive$", RegexOptions.Multiline));

        // Before the interval has passed there is none: a quick answer (the clock stands still) carries no keep-alive.
        var quick = await (await client.SendAsync(BuyerWorld.Invoke(key, new { input = "Quick", stream = true }), hang.Token)).Content.ReadAsStringAsync(hang.Token);
        Assert.DoesNotContain("keep-alive", quick);
        Assert.Contains("event: end\n", quick);
    }

    /// <summary>The built-in runtime, held back until the test releases it, as a slow model would be.</summary>
    private sealed class HeldBack(IAgentRuntime inner, Task release) : IAgentRuntime
    {
        public string Name => inner.Name;

        public Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct) => inner.DeployAsync(version, ct);

        public async IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, [EnumeratorCancellation] CancellationToken ct)
        {
            await release.WaitAsync(ct);
            await foreach (var e in inner.InvokeAsync(version, request, ct))
            {
                yield return e;
            }
        }
    }
}
