using System.Net;
using Bunit;
using Cmp.Web.Features.Orders.Pages;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Orders;

/// <summary>The order form over the real database: plan and project, then the subscription; the empty states say what to do.</summary>
public sealed class OrderFormTests(CmpFactory factory) : IClassFixture<CmpFactory>, IAsyncLifetime
{
    private readonly Api _api = new(factory);
    private readonly ConsolePageHost _host = new(factory);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task AnApprover_Orders_AndLandsOnTheNewSubscription()
    {
        var (_, _, offering, _) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var (buyer, customer, _) = await BuyerWorld.NewBuyerAsync(_api);
        var form = await _host.RenderPageAsync<OrderForm>(await _host.WorkspaceAsync(buyer.Email, customer), (nameof(OrderForm.Uuid), offering));
        form.WaitForAssertion(() => Assert.Contains("Pay as you go", form.Markup));
        Assert.Contains("0.01 EUR per invocation", form.Markup);
        form.Find("#order-name").Change("Support bot");

        await form.Find("form").SubmitAsync();

        var navigation = _host.Bunit.Services.GetRequiredService<NavigationManager>();
        form.WaitForAssertion(() => Assert.Contains("/customer/agents/", navigation.Uri), TimeSpan.FromSeconds(30));
        var resource = navigation.Uri.TrimEnd('/').Split('/')[^1];
        var dto = await Json.ReadAsync(await buyer.Client.GetAsync($"/api/marketplace-resources/{resource}/"), HttpStatusCode.OK);
        Assert.Equal(("Support bot", "OK"), (dto["name"]!.GetValue<string>(), dto["state"]!.GetValue<string>()));
    }

    [Fact]
    public async Task WithoutAProject_PointsToTheOrganizationsSettings_AndAnUnknownOfferingIsNotFound()
    {
        var (_, _, offering, _) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var user = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(user, "No projects yet");
        var workspace = await _host.WorkspaceAsync(user.Email, customer);

        var form = await _host.RenderPageAsync<OrderForm>(workspace, (nameof(OrderForm.Uuid), offering));
        form.WaitForAssertion(() => Assert.Contains("has no project you can order for", form.Markup));
        Assert.Contains($"/organizations/{customer}/settings", form.Markup);
        Assert.Empty(form.FindAll("form"));

        var missing = await _host.RenderPageAsync<OrderForm>(workspace, (nameof(OrderForm.Uuid), Guid.NewGuid().ToString("N")));
        missing.WaitForAssertion(() => Assert.Equal("Not found", missing.Find("h1").TextContent.Trim()));
    }
}
