using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Organizations;

/// <summary>A project that resources or orders point at cannot be deleted: a 409 naming them, never a 500.</summary>
public sealed class ProjectDeletionTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private Task<int> CountAsync(string project) =>
        factory.WithDbAsync(db => db.Projects.CountAsync(p => p.Id == Guid.ParseExact(project, "N")));

    [Fact]
    public async Task Delete_ProjectHoldingResource_Is409NamingIt_EvenTerminated_AndChangesNothing()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var owner = world.Buyer.Client;
        var resource = await Json.ReadAsync(await owner.GetAsync($"/api/marketplace-resources/{world.Resource}/"), HttpStatusCode.OK);
        var name = resource["name"]!.GetValue<string>();
        var users = (await Json.ReadArrayAsync(await owner.GetAsync($"/api/projects/{world.Project}/users/"))).Count;

        var problem = await Json.ProblemAsync(await owner.DeleteAsync($"/api/projects/{world.Project}/"), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains(name, detail);
        Assert.Contains(world.Resource, detail);
        Assert.Equal(1, await CountAsync(world.Project));
        Assert.Equal(users, (await Json.ReadArrayAsync(await owner.GetAsync($"/api/projects/{world.Project}/users/"))).Count);
        Assert.Equal("OK", (await Json.ReadAsync(await owner.GetAsync($"/api/marketplace-resources/{world.Resource}/"), HttpStatusCode.OK))["state"]!.GetValue<string>());

        // A terminated resource's row is kept, so it still holds the project, and the answer says so.
        await Json.ReadAsync(await owner.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        problem = await Json.ProblemAsync(await owner.DeleteAsync($"/api/projects/{world.Project}/"), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        detail = problem["detail"]!.GetValue<string>();
        Assert.Contains(world.Resource, detail);
        Assert.Contains("TERMINATED", detail);
        Assert.Contains("terminated resources and canceled or rejected orders still hold the project", detail);
        Assert.Equal(1, await CountAsync(world.Project));
    }

    [Fact]
    public async Task Delete_ProjectWithOrdersButNoResource_Is409SayingWhy()
    {
        var (_, _, offering, plan) = await BuyerWorld.PublishAsync(_api, "Basic Prompting");
        var (owner, _, project) = await BuyerWorld.NewBuyerAsync(_api);
        var member = await _api.NewUserAsync();
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/projects/{project}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Created);
        // A member's order waits for the owner, so no resource exists; cancel it and the row still points at the project.
        var order = (await Json.ReadAsync(await member.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        await Json.ReadAsync(await member.Client.PostAsync($"/api/marketplace-orders/{order}/cancel/", null), HttpStatusCode.OK);

        var problem = await Json.ProblemAsync(await owner.Client.DeleteAsync($"/api/projects/{project}/"), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains(order, detail);
        Assert.Contains("CANCELED", detail);
        Assert.Contains("Orders (1)", detail);
        Assert.DoesNotContain("Resources (", detail);
        Assert.Equal(1, await CountAsync(project));
    }

    [Fact]
    public async Task Delete_EmptyProject_BesideOneHoldingResource_Is204()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var owner = world.Buyer.Client;
        var empty = (await Json.ReadAsync(await owner.PostAsJsonAsync("/api/projects/", new { customer = world.Customer, name = "Empty" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/projects/{empty}/")).StatusCode);
        Assert.Equal(0, await CountAsync(empty));
        Assert.Equal(1, await CountAsync(world.Project));
    }

    /// <summary>The race fallback: an order or resource that arrives between the check and the delete is a foreign key
    /// violation, which must be recognized on this provider (SQLite and PostgreSQL report it differently).</summary>
    [Fact]
    public async Task IsForeignKeyViolation_DeletingAHeldProject_IsRecognized_AndOthersAreNot()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var id = Guid.ParseExact(world.Project, "N");
        var thrown = await factory.WithDbAsync(async db =>
            await Record.ExceptionAsync(() => db.Projects.Where(p => p.Id == id).ExecuteDeleteAsync()));
        Assert.NotNull(thrown);
        Assert.True(DbErrors.IsForeignKeyViolation(thrown), thrown.ToString());
        Assert.False(DbErrors.IsUniqueViolation(thrown));
        Assert.False(DbErrors.IsForeignKeyViolation(new InvalidOperationException("FOREIGN KEY")));
    }
}
