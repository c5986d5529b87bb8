using System.Net;
using System.Net.Http.Json;
using AngleSharp.Dom;
using Bunit;
using Cmp.Web.Components;
using Cmp.Web.Features.Orders.Pages;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;

namespace Cmp.Web.Tests.Orders;

/// <summary>
/// The order pages over the real application's database: each user sees the buttons the workflow allows them, and
/// a button takes the same action the API does.
/// </summary>
public sealed class OrderPagesTests(CmpFactory factory) : IClassFixture<CmpFactory>, IAsyncLifetime
{
    private readonly Api _api = new(factory);
    private readonly ConsolePageHost _host = new(factory);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<Workspace> WorkspaceAsync(string email, string organization) => _host.WorkspaceAsync(email, organization);

    private Task<IRenderedComponent<TPage>> RenderPageAsync<TPage>(Workspace workspace) where TPage : IComponent => _host.RenderPageAsync<TPage>(workspace);

    private static IReadOnlyList<string> ActionButtons<T>(IRenderedComponent<T> cut) where T : IComponent =>
        cut.FindAll("td button").Select(b => b.GetAttribute("aria-label") ?? "").ToList();

    private static IElement Button<T>(IRenderedComponent<T> cut, string name) where T : IComponent =>
        cut.FindAll("button").Single(b => (b.GetAttribute("aria-label") ?? b.TextContent.Trim()) == name);

    private async Task<string> OrderStateAsync(HttpClient client, string uuid) =>
        (await Json.ReadAsync(await client.GetAsync($"/api/marketplace-orders/{uuid}/"), HttpStatusCode.OK))["state"]!.GetValue<string>();

    [Fact]
    public async Task CustomerOrders_MemberMayOnlyCancel_OwnerApproves_AndTheOrderIsDone()
    {
        var (_, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var (owner, customer, project) = await BuyerWorld.NewBuyerAsync(_api);
        var member = await _api.NewUserAsync();
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/projects/{project}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Created);
        var order = await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
        var uuid = order["uuid"]!.GetValue<string>();
        var agentName = order["offering_name"]!.GetValue<string>();

        var asMember = await RenderPageAsync<CustomerOrders>(await WorkspaceAsync(member.Email, customer));
        asMember.WaitForAssertion(() => Assert.Contains("PENDING_CONSUMER", asMember.Markup));
        asMember.WaitForAssertion(() => Assert.Equal([$"Cancel order for {agentName}"], ActionButtons(asMember)));

        var asOwner = await RenderPageAsync<CustomerOrders>(await WorkspaceAsync(owner.Email, customer));
        asOwner.WaitForAssertion(() => Assert.Contains("PENDING_CONSUMER", asOwner.Markup));
        asOwner.WaitForAssertion(() => Assert.Equal([$"Approve order for {agentName}", $"Reject order for {agentName}", $"Cancel order for {agentName}"], ActionButtons(asOwner)));

        await Button(asOwner, $"Approve order for {agentName}").ClickAsync();
        asOwner.WaitForAssertion(() => Assert.Contains("DONE", asOwner.Markup), TimeSpan.FromSeconds(30));
        asOwner.WaitForAssertion(() => Assert.Empty(ActionButtons(asOwner)));
        Assert.Equal("DONE", await OrderStateAsync(owner.Client, uuid));
        Assert.Contains("Open subscription", asOwner.Markup);
    }

    [Fact]
    public async Task ProviderOrders_SellerRejectsAfterConfirming_AndTheBuyerCannotApproveForTheSeller()
    {
        var (seller, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting", requiresProviderApproval: true);
        var (buyer, customer, project) = await BuyerWorld.NewBuyerAsync(_api);
        var order = await Json.ReadAsync(await buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
        Assert.Equal("PENDING_PROVIDER", order["state"]!.GetValue<string>());
        var uuid = order["uuid"]!.GetValue<string>();
        var agentName = order["offering_name"]!.GetValue<string>();

        var asBuyer = await RenderPageAsync<CustomerOrders>(await WorkspaceAsync(buyer.Email, customer));
        asBuyer.WaitForAssertion(() => Assert.Contains("PENDING_PROVIDER", asBuyer.Markup));
        asBuyer.WaitForAssertion(() => Assert.Equal([$"Cancel order for {agentName}"], ActionButtons(asBuyer)));

        var host = await _host.RenderAsync<ProviderOrders>(await WorkspaceAsync(seller.Owner.Email, seller.Customer));
        var asSeller = host.FindComponent<ProviderOrders>();
        asSeller.WaitForAssertion(() => Assert.Contains("PENDING_PROVIDER", asSeller.Markup));
        asSeller.WaitForAssertion(() => Assert.Equal([$"Approve order for {agentName}", $"Reject order for {agentName}"], ActionButtons(asSeller)));

        // The click's handler waits for the confirmation, so it finishes once the dialog is answered.
        var rejecting = Button(asSeller, $"Reject order for {agentName}").ClickAsync();
        host.WaitForAssertion(() => Assert.Contains("cannot be reopened", host.Find(".mud-dialog").TextContent));
        Assert.Equal("PENDING_PROVIDER", await OrderStateAsync(buyer.Client, uuid));
        await host.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Reject order").ClickAsync();
        await rejecting;
        asSeller.WaitForAssertion(() => Assert.Contains("No orders waiting", asSeller.Markup), TimeSpan.FromSeconds(30));
        Assert.Equal("REJECTED", await OrderStateAsync(buyer.Client, uuid));
    }

    [Fact]
    public async Task AdminOrders_IsNotFoundForOthers_AndListsEveryOrganizationsOrdersForStaff()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");

        var asBuyer = await RenderPageAsync<AdminOrders>(await WorkspaceAsync(world.Buyer.Email, world.Customer));
        Assert.Contains("Not found", asBuyer.Find("h1").TextContent);
        Assert.Empty(asBuyer.FindAll("table"));

        var asStaff = await RenderPageAsync<AdminOrders>(await WorkspaceAsync(CmpFactory.StaffEmail, world.Customer));
        asStaff.WaitForAssertion(() => Assert.Contains("DONE", asStaff.Markup));
        Assert.Contains("All orders", asStaff.Find("h1").TextContent);
        Assert.Empty(ActionButtons(asStaff));
    }
}
