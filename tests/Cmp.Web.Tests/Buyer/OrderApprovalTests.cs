using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cmp.Web.Tests.Buyer;

public sealed class OrderApprovalTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    /// <summary>A project member (not an owner) places the order, so the consumer must review it.</summary>
    private async Task<(Api.User Owner, Api.User Member, string Project, string Customer)> BuyerWithMemberAsync()
    {
        var (owner, customer, project) = await BuyerWorld.NewBuyerAsync(_api);
        var member = await _api.NewUserAsync();
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/projects/{project}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Created);
        return (owner, member, project, customer);
    }

    [Fact]
    public async Task MemberOrder_WaitsForConsumer_ThenProvider_ThenIsDone_AndApproversAreMailed()
    {
        var (seller, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting", requiresProviderApproval: true);
        var (owner, member, project, customer) = await BuyerWithMemberAsync();
        var order = await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
        Assert.Equal("PENDING_CONSUMER", order["state"]!.GetValue<string>());
        var uuid = order["uuid"]!.GetValue<string>();
        Assert.Contains("approve_by_consumer", (await _api.LatestEmailAsync(owner.Email))["body"]!.GetValue<string>());

        await Json.ProblemAsync(await member.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_consumer/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await seller.Owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_provider/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        var waiting = await Json.ReadArrayAsync(await owner.Client.GetAsync("/api/marketplace-orders/?can_approve_as_consumer=true"));
        Assert.Contains(waiting, o => o!["uuid"]!.GetValue<string>() == uuid);

        var reviewed = await Json.ReadAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_consumer/", null), HttpStatusCode.OK);
        Assert.Equal("PENDING_PROVIDER", reviewed["state"]!.GetValue<string>());
        Assert.Equal(owner.Uuid, reviewed["consumer_reviewed_by_uuid"]!.GetValue<string>());
        Assert.Contains("approve_by_provider", (await _api.LatestEmailAsync(seller.Owner.Email))["body"]!.GetValue<string>());
        Assert.Empty(await Json.ReadArrayAsync(await owner.Client.GetAsync("/api/marketplace-orders/?can_approve_as_provider=true")));
        Assert.Single(await Json.ReadArrayAsync(await seller.Owner.Client.GetAsync("/api/marketplace-orders/?can_approve_as_provider=true")));

        await Json.ProblemAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_provider/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var done = await Json.ReadAsync(await seller.Owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_provider/", null), HttpStatusCode.OK);
        Assert.Equal("DONE", done["state"]!.GetValue<string>());
        Assert.NotNull(done["resource_uuid"]);
        await Json.ProblemAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/cancel/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Single(await Json.ReadArrayAsync(await owner.Client.GetAsync($"/api/marketplace-orders/?customer_uuid={customer}&state=DONE")));
    }

    [Fact]
    public async Task ConcurrentApprovals_OneWins_TheOtherIs409()
    {
        var (_, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var (owner, member, project, _) = await BuyerWithMemberAsync();
        var uuid = (await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_consumer/", null)));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], results.Select(r => r.StatusCode).Order());
        var order = await Json.ReadAsync(await owner.Client.GetAsync($"/api/marketplace-orders/{uuid}/"), HttpStatusCode.OK);
        Assert.Equal("DONE", order["state"]!.GetValue<string>());
        Assert.Single(await Json.ReadArrayAsync(await owner.Client.GetAsync("/api/marketplace-resources/")));
    }

    [Fact]
    public async Task Reject_Cancel_AndRefusals()
    {
        var (seller, agent, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting", requiresProviderApproval: true);
        var (owner, member, project, _) = await BuyerWithMemberAsync();
        async Task<string> PlaceAsync() =>
            (await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();

        var rejected = await PlaceAsync();
        Assert.Equal("REJECTED", (await Json.ReadAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{rejected}/reject_by_consumer/", null), HttpStatusCode.OK))["state"]!.GetValue<string>());
        var canceled = await PlaceAsync();
        Assert.Equal("CANCELED", (await Json.ReadAsync(await member.Client.PostAsync($"/api/marketplace-orders/{canceled}/cancel/", null), HttpStatusCode.OK))["state"]!.GetValue<string>());
        var byProvider = await PlaceAsync();
        await Json.ReadAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{byProvider}/approve_by_consumer/", null), HttpStatusCode.OK);
        Assert.Equal("REJECTED", (await Json.ReadAsync(await seller.Owner.Client.PostAsync($"/api/marketplace-orders/{byProvider}/reject_by_provider/", null), HttpStatusCode.OK))["state"]!.GetValue<string>());

        var outsider = await _api.NewUserAsync();
        await Json.ProblemAsync(await outsider.Client.GetAsync($"/api/marketplace-orders/{rejected}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await outsider.Client.PostAsync($"/api/marketplace-orders/{rejected}/cancel/", null), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await outsider.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan = Guid.NewGuid().ToString("N"), project }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering = "x", plan, project }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await member.Client.GetAsync("/api/marketplace-orders/?state=LOST"), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        // Only ACTIVE offerings take new orders.
        await Json.ReadAsync(await seller.Owner.Client.PostAsync($"/api/provider-agents/{agent}/pause/", null), HttpStatusCode.OK);
        await Json.ProblemAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);

        // The seller sees its agent's orders; a stranger sees none.
        Assert.Equal(3, (await Json.ReadArrayAsync(await seller.Owner.Client.GetAsync($"/api/marketplace-orders/?provider_uuid={seller.Provider}"))).Count);
        Assert.Empty(await Json.ReadArrayAsync(await outsider.Client.GetAsync("/api/marketplace-orders/")));
    }

    [Fact]
    public async Task Staff_SkipConsumerReview_AndOnlyTheRightPeopleMayRejectOrCancel()
    {
        var (seller, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting", requiresProviderApproval: true);
        var (owner, member, project, _) = await BuyerWithMemberAsync();
        // Staff skip the consumer's review (the provider's still applies: the agent asks for it).
        var byStaff = await Json.ReadAsync(await (await _api.StaffAsync()).PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
        Assert.Equal("PENDING_PROVIDER", byStaff["state"]!.GetValue<string>());
        Assert.NotNull(byStaff["consumer_reviewed_at"]);

        var uuid = (await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        // Only approvers see it as theirs to approve.
        Assert.DoesNotContain(await Json.ReadArrayAsync(await member.Client.GetAsync("/api/marketplace-orders/?can_approve_as_consumer=true")), o => o!["uuid"]!.GetValue<string>() == uuid);
        Assert.Contains(await Json.ReadArrayAsync(await owner.Client.GetAsync("/api/marketplace-orders/?can_approve_as_consumer=true")), o => o!["uuid"]!.GetValue<string>() == uuid);
        await Json.ProblemAsync(await member.Client.PostAsync($"/api/marketplace-orders/{uuid}/reject_by_consumer/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        // Another member of the project, neither its creator nor an approver, may not cancel it.
        var colleague = await _api.NewUserAsync();
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/projects/{project}/add_user/", new { user = colleague.Uuid, role = "member" }), HttpStatusCode.Created);
        await Json.ProblemAsync(await colleague.Client.PostAsync($"/api/marketplace-orders/{uuid}/cancel/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ReadAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/approve_by_consumer/", null), HttpStatusCode.OK);
        // The buyer may not reject as the provider; the seller may.
        await Json.ProblemAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/reject_by_provider/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var rejected = await Json.ReadAsync(await seller.Owner.Client.PostAsync($"/api/marketplace-orders/{uuid}/reject_by_provider/", null), HttpStatusCode.OK);
        Assert.Equal("REJECTED", rejected["state"]!.GetValue<string>());
        Assert.Equal(seller.Owner.Uuid, rejected["provider_reviewed_by_uuid"]!.GetValue<string>());
        Assert.NotNull(rejected["provider_reviewed_at"]);
    }

    [Fact]
    public async Task TheOrdersName_NamesTheResource_AfterApproval_AndCancelRecordsWhoAndWhen()
    {
        var (_, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var (owner, member, project, _) = await BuyerWithMemberAsync();
        var named = await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project, name = "Support desk" }), HttpStatusCode.Created);
        Assert.Equal("Support desk", named["name"]!.GetValue<string>());
        var done = await Json.ReadAsync(await owner.Client.PostAsync($"/api/marketplace-orders/{named["uuid"]!.GetValue<string>()}/approve_by_consumer/", null), HttpStatusCode.OK);
        var resource = await Json.ReadAsync(await owner.Client.GetAsync($"/api/marketplace-resources/{done["resource_uuid"]!.GetValue<string>()}/"), HttpStatusCode.OK);
        Assert.Equal("Support desk", resource["name"]!.GetValue<string>());
        Assert.NotNull(done["completed_at"]);

        // Without a name the resource takes the agent's.
        var unnamed = await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
        Assert.Null(unnamed["name"]);
        Assert.Null(unnamed["canceled_at"]);
        var canceled = await Json.ReadAsync(await member.Client.PostAsync($"/api/marketplace-orders/{unnamed["uuid"]!.GetValue<string>()}/cancel/", null), HttpStatusCode.OK);
        Assert.Equal(member.Uuid, canceled["canceled_by_uuid"]!.GetValue<string>());
        Assert.True(DateTime.UtcNow - canceled["canceled_at"]!.GetValue<DateTime>().ToUniversalTime() < TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task ADraftOffering_IsUnknownToBuyers_ItsOwnSellerGetsTheStateConflict()
    {
        var seller = await _api.NewSellerAsync("Drafting " + Guid.NewGuid().ToString("N")[..6]);
        var agent = await Api.NewAgentAsync(seller);
        await Json.ReadAsync(await seller.Owner.Client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Seller.Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Created);
        await Api.WaitForRuntimeAsync(seller.Owner.Client, agent);
        var body = new { name = "Monthly", currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "Monthly", price = "5" } } };
        var plan = (await Json.ReadAsync(await seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", body), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var offering = (await Json.ReadAsync(await seller.Owner.Client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK))["offering_uuid"]!.GetValue<string>();

        // To a buyer the draft does not exist: the same answer as for an unknown offering.
        var (buyer, _, project) = await BuyerWorld.NewBuyerAsync(_api);
        var unknown = await Json.ProblemAsync(await buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Equal("No offering with this uuid.", unknown["errors"]!["offering"]![0]!.GetValue<string>());
        // Its own organization sees it and is told why it cannot be ordered yet.
        var own = (await Json.ReadAsync(await seller.Owner.Client.PostAsJsonAsync("/api/projects/", new { customer = seller.Customer, name = "Trial" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var conflict = await Json.ProblemAsync(await seller.Owner.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project = own }), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Contains("DRAFT", conflict["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnOrderLeftExecuting_ByAStoppedProcess_IsFinishedOnStart()
    {
        var (_, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var (owner, member, project, _) = await BuyerWithMemberAsync();
        var uuid = (await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project, name = "Recovered" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        // The approval's state move committed, then the process stopped before the resource was made.
        var id = Guid.ParseExact(uuid, "N");
        await factory.WithDbAsync(db => db.Orders.Where(o => o.Id == id).ExecuteUpdateAsync(s => s.SetProperty(o => o.State, OrderState.Executing)));
        Assert.Equal("EXECUTING", (await Json.ReadAsync(await owner.Client.GetAsync($"/api/marketplace-orders/{uuid}/"), HttpStatusCode.OK))["state"]!.GetValue<string>());

        var recovery = new OrderRecovery(factory.Services.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System, NullLogger<OrderRecovery>.Instance);
        await recovery.StartAsync(CancellationToken.None);
        await recovery.ExecuteTask!;
        var order = await Json.ReadAsync(await owner.Client.GetAsync($"/api/marketplace-orders/{uuid}/"), HttpStatusCode.OK);
        Assert.Equal("DONE", order["state"]!.GetValue<string>());
        var resource = await Json.ReadAsync(await owner.Client.GetAsync($"/api/marketplace-resources/{order["resource_uuid"]!.GetValue<string>()}/"), HttpStatusCode.OK);
        Assert.Equal("Recovered", resource["name"]!.GetValue<string>());
        Assert.NotNull(resource["config_uuid"]);

        // Run again, it finds nothing left to do and makes no second resource.
        var again = new OrderRecovery(factory.Services.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System, NullLogger<OrderRecovery>.Instance);
        await again.StartAsync(CancellationToken.None);
        await again.ExecuteTask!;
        Assert.Equal(1, await factory.WithDbAsync(db => db.Resources.CountAsync(r => r.OrderId == id)));
    }

    [Fact]
    public async Task ConfigFieldRules_EachIs400_AndChangeNothing()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var url = $"/api/customer-agent-configs/{world.Config}/";
        async Task Refused(object patch, string field)
        {
            var problem = await Json.ProblemAsync(await world.Buyer.Client.PatchAsJsonAsync(url, patch), HttpStatusCode.BadRequest, ProblemTypes.Validation);
            Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
        }
        await Refused(new { agent_name = "" }, "agent_name");
        await Refused(new { agent_name = new string('n', 81) }, "agent_name");
        await Refused(new { greeting = new string('g', 501) }, "greeting");
        await Refused(new { system_prompt = new string('p', 8001) }, "system_prompt");
        await Refused(new { tone = "sarcastic" }, "tone");
        await Refused(new { primary_color = "red" }, "primary_color");
        await Refused(new { secondary_color = "#12345" }, "secondary_color");
        await Refused(new { avatar_url = "http://example.com/a.png" }, "avatar_url");
        await Refused(new { position = "top" }, "position");
        await Refused(new { theme = "neon" }, "theme");
        await Refused(new { allowed_domains = new[] { "https://acme.com" } }, "allowed_domains");
        await Refused(new { allowed_domains = new[] { "acme.com/path" } }, "allowed_domains");
        await Refused(new { allowed_domains = new[] { "*.com" } }, "allowed_domains");
        await Refused(new { allowed_domains = "acme.com" }, "allowed_domains");
        var unchanged = await Json.ReadAsync(await world.Buyer.Client.GetAsync(url), HttpStatusCode.OK);
        Assert.Equal("professional", unchanged["tone"]!.GetValue<string>());
        Assert.Empty(unchanged["allowed_domains"]!.AsArray());

        var ok = await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync(url, new
        {
            avatar_url = "https://cdn.acme.com/bot.png",
            position = "bottom-left",
            theme = "dark",
            secondary_color = "#ABCDEF",
            allowed_domains = new[] { "Acme.com", "*.acme.com", "127.0.0.1", "localhost" },
        }), HttpStatusCode.OK);
        Assert.Equal(["acme.com", "*.acme.com", "127.0.0.1", "localhost"], ok["allowed_domains"]!.AsArray().Select(d => d!.GetValue<string>()));
    }
}
