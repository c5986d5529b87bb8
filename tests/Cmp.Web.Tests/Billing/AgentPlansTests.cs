using System.Net;
using Bunit;
using Cmp.Web.Features.Billing.Pages;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Billing;

/// <summary>The seller studio's Plans tab over the real database: prices per billing type, adding a plan, archiving one after confirming.</summary>
public sealed class AgentPlansTests(CmpFactory factory) : IClassFixture<CmpFactory>, IAsyncLifetime
{
    private readonly Api _api = new(factory);
    private readonly ConsolePageHost _host = new(factory);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Seller_SeesPrices_AddsAPlan_AndArchivesItAfterConfirming()
    {
        var (seller, agent, _, _) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var workspace = await _host.WorkspaceAsync(seller.Owner.Email, seller.Customer);
        var host = await _host.RenderAsync<AgentPlans>(workspace, (nameof(AgentPlans.AgentId), Guid.ParseExact(agent, "N")), (nameof(AgentPlans.CanEdit), true));
        host.WaitForAssertion(() => Assert.Contains("0.01 EUR per invocation", host.Markup));

        await host.FindAll("button").Single(b => b.TextContent.Trim() == "Add plan").ClickAsync();
        host.Find("#plan-name").Change("Pro");
        host.Find("#component-0-name").Change("Monthly");
        host.Find("#component-0-price").Change("19");
        await host.Find("form").SubmitAsync();
        host.WaitForAssertion(() => Assert.Contains("19.00 EUR per month", host.Markup));
        Assert.Empty(host.FindAll("form"));

        var archiving = host.FindAll("button").Single(b => b.GetAttribute("aria-label") == "Archive plan Pro").ClickAsync();
        host.WaitForAssertion(() => Assert.Contains("takes no new orders", host.Find(".mud-dialog").TextContent));
        await host.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Archive plan").ClickAsync();
        await archiving;
        host.WaitForAssertion(() => Assert.Null(host.FindAll("button").SingleOrDefault(b => b.GetAttribute("aria-label") == "Archive plan Pro")));
        var plans = await Json.ReadArrayAsync(await seller.Owner.Client.GetAsync($"/api/provider-agents/{agent}/plans/"));
        Assert.True(plans.Single(p => p!["name"]!.GetValue<string>() == "Pro")!["archived"]!.GetValue<bool>());
        Assert.Contains("Archived", host.Markup);
    }

    [Fact]
    public async Task WithoutEditing_NoActions_AndAnotherOrganizationsAgentIsNotFound()
    {
        var (seller, agent, _, _) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var asSeller = await _host.RenderPageAsync<AgentPlans>(await _host.WorkspaceAsync(seller.Owner.Email, seller.Customer),
            (nameof(AgentPlans.AgentId), Guid.ParseExact(agent, "N")), (nameof(AgentPlans.CanEdit), false));
        asSeller.WaitForAssertion(() => Assert.Contains("Pay as you go", asSeller.Markup));
        Assert.Empty(asSeller.FindAll("button"));

        var (buyer, customer, _) = await BuyerWorld.NewBuyerAsync(_api);
        var asBuyer = await _host.RenderPageAsync<AgentPlans>(await _host.WorkspaceAsync(buyer.Email, customer),
            (nameof(AgentPlans.AgentId), Guid.ParseExact(agent, "N")), (nameof(AgentPlans.CanEdit), true));
        asBuyer.WaitForAssertion(() => Assert.Contains("Not found", asBuyer.Markup));
        Assert.DoesNotContain("Pay as you go", asBuyer.Markup);
        Assert.Equal(HttpStatusCode.NotFound, (await buyer.Client.GetAsync($"/api/provider-agents/{agent}/plans/")).StatusCode);
    }
}
