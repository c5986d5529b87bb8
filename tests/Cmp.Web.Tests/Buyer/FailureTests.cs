using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

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
        await using var slow = factory.WithWebHostBuilder(b => b
            .UseSetting("Gateway:KeepAliveSeconds", "0.05")
            .ConfigureTestServices(s => s.AddSingleton<IAgentRuntime>(sp => new SlowStart(sp.GetRequiredService<BuiltinAgentRuntime>(), TimeSpan.FromMilliseconds(400)))));
        var text = await (await slow.CreateClient().SendAsync(BuyerWorld.Invoke(key, new { input = "Take your time", stream = true }))).Content.ReadAsStringAsync();
        var first = text.IndexOf("event: token\n", StringComparison.Ordinal);
        Assert.True(first > 0, text);
        Assert.True(Regex.Count(text[..first], "^: keep-alive\n\n", RegexOptions.Multiline) >= 2, text);
        Assert.Contains("event: end\n", text);

        // The default interval (15 s) never shows on a quick answer.
        var quick = await (await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Quick", stream = true }))).Content.ReadAsStringAsync();
        Assert.DoesNotContain("keep-alive", quick);
        Assert.Contains("event: end\n", quick);
    }

    /// <summary>The built-in runtime, starting late as a real model does under load.</summary>
    private sealed class SlowStart(IAgentRuntime inner, TimeSpan delay) : IAgentRuntime
    {
        public string Name => inner.Name;

        public Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct) => inner.DeployAsync(version, ct);

        public async IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, [EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Delay(delay, ct);
            await foreach (var e in inner.InvokeAsync(version, request, ct))
            {
                yield return e;
            }
        }
    }
}
