using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Billing;

/// <summary>A resource's plan history, from which invoices are computed: opened on DONE, split by switch_plan, closed by terminate.</summary>
public sealed class PlanPeriodTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private Task<List<PlanPeriod>> PeriodsAsync(string resource)
    {
        var id = Guid.ParseExact(resource, "N");
        return factory.WithDbAsync(db => db.PlanPeriods.AsNoTracking().Where(p => p.ResourceId == id).OrderBy(p => p.StartsAt).ThenBy(p => p.EndsAt == null).ToListAsync());
    }

    private async Task<string> AddPlanAsync(BuyerWorld world, string name) =>
        (await Json.ReadAsync(await world.Seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{world.Agent}/plans/",
            new { name, currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "Monthly", price = "10.00" } } }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();

    [Fact]
    public async Task OrderDone_SwitchPlan_Terminate_RecordOneChainOfPeriods()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var resourceId = Guid.ParseExact(world.Resource, "N");
        var activated = await factory.WithDbAsync(db => db.Resources.Where(r => r.Id == resourceId).Select(r => r.ActivatedAt).SingleAsync());
        var first = Assert.Single(await PeriodsAsync(world.Resource));
        Assert.Equal((Guid.ParseExact(world.Plan, "N"), activated!.Value, (DateTime?)null), (first.PlanId, first.StartsAt, first.EndsAt));

        var gold = await AddPlanAsync(world, "Gold");
        await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = gold }), HttpStatusCode.OK);
        var afterSwitch = await PeriodsAsync(world.Resource);
        Assert.Equal(2, afterSwitch.Count);
        Assert.NotNull(afterSwitch[0].EndsAt);
        Assert.Equal(afterSwitch[0].EndsAt, afterSwitch[1].StartsAt); // no gap, no overlap
        Assert.Equal((Guid.ParseExact(gold, "N"), (DateTime?)null), (afterSwitch[1].PlanId, afterSwitch[1].EndsAt));

        // Refusals change nothing: the plan it is on already, an unknown plan.
        await Json.ProblemAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = gold }), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        await Json.ProblemAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = Guid.NewGuid().ToString("N") }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Equal(2, (await PeriodsAsync(world.Resource)).Count);

        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        var terminatedAt = await factory.WithDbAsync(db => db.Resources.Where(r => r.Id == resourceId).Select(r => r.TerminatedAt).SingleAsync());
        var closed = await PeriodsAsync(world.Resource);
        Assert.All(closed, p => Assert.NotNull(p.EndsAt));
        Assert.Equal(terminatedAt, closed[1].EndsAt);
        await Json.ProblemAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = world.Plan }), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Equal(2, (await PeriodsAsync(world.Resource)).Count);
    }

    [Fact]
    public async Task TwoSwitchesAtOnce_OneWins_TheChainStaysWhole()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var plans = new[] { await AddPlanAsync(world, "Silver"), await AddPlanAsync(world, "Gold") };
        for (var round = 0; round < 5; round++)
        {
            var answers = await Task.WhenAll(plans.Select(p => world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = p })));
            var won = answers.Count(a => a.StatusCode == HttpStatusCode.OK);
            Assert.InRange(won, 1, 2); // both win only when one ran after the other had committed
            Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.Conflict, a.StatusCode));
            var periods = await PeriodsAsync(world.Resource);
            Assert.Single(periods, p => p.EndsAt is null);
            for (var i = 1; i < periods.Count; i++)
            {
                Assert.Equal(periods[i - 1].EndsAt, periods[i].StartsAt);
            }
            var resourceId = Guid.ParseExact(world.Resource, "N");
            var current = await factory.WithDbAsync(db => db.Resources.Where(r => r.Id == resourceId).Select(r => r.PlanId).SingleAsync());
            Assert.Equal(current, periods[^1].PlanId);
        }
    }
}
