using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Organizations;

public sealed class ProjectsTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [Fact]
    public async Task Create_AllowDenyMatrix()
    {
        var owner = await _api.NewUserAsync();
        var manager = await _api.NewUserAsync();
        var support = await _api.NewUserAsync();
        var outsider = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner);
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = manager.Uuid, role = "manager" }), HttpStatusCode.Created);
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = support.Uuid, role = "support" }), HttpStatusCode.Created);

        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/projects/", new { customer, name = "P" }), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        // To an outsider the organization does not exist: a field error, never a hint.
        var hidden = await Json.ProblemAsync(await outsider.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "P" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(hidden["errors"]!["customer"]);
        await Json.ProblemAsync(await support.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "P" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "By owner" }), HttpStatusCode.Created);
        await Json.ReadAsync(await manager.Client.PostAsJsonAsync("/api/projects/", new { customer = $"http://localhost/api/customers/{customer}/", name = "By manager" }), HttpStatusCode.Created);
        await Json.ReadAsync(await (await _api.StaffAsync()).PostAsJsonAsync("/api/projects/", new { customer, name = "By staff" }), HttpStatusCode.Created);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { customer, name = new string('p', 151) }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { name = "No customer" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        var list = await Json.ReadArrayAsync(await support.Client.GetAsync($"/api/projects/?customer_uuid={customer}&o=name"));
        Assert.Equal(["By manager", "By owner", "By staff"], list.Select(p => p!["name"]!.GetValue<string>()).ToArray());
        Assert.Empty(await Json.ReadArrayAsync(await outsider.Client.GetAsync("/api/projects/")));
        await Json.ProblemAsync(await support.Client.GetAsync("/api/projects/?customer_uuid=zzz"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
    }

    [Fact]
    public async Task ProjectRoles_MemberSeesOnlyItsProject_AdminManagesItsUsers()
    {
        var owner = await _api.NewUserAsync();
        var admin = await _api.NewUserAsync();
        var member = await _api.NewUserAsync();
        var outsider = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner);
        var p1 = (await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "One" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var p2 = (await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "Two" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();

        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/projects/{p1}/add_user/", new { user = admin.Uuid, role = "admin" }), HttpStatusCode.Created);
        await Json.ReadAsync(await admin.Client.PostAsJsonAsync($"/api/projects/{p1}/add_user/", new { email = member.Email, role = "member" }), HttpStatusCode.Created);
        await Json.ProblemAsync(await member.Client.PostAsJsonAsync($"/api/projects/{p1}/add_user/", new { user = outsider.Uuid, role = "member" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await admin.Client.PostAsJsonAsync($"/api/projects/{p1}/add_user/", new { user = outsider.Uuid, role = "owner" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await admin.Client.PostAsJsonAsync($"/api/projects/{p1}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        // The member sees project One and its organization, not project Two.
        await Json.ReadAsync(await member.Client.GetAsync($"/api/projects/{p1}/"), HttpStatusCode.OK);
        await Json.ProblemAsync(await member.Client.GetAsync($"/api/projects/{p2}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ReadAsync(await member.Client.GetAsync($"/api/customers/{customer}/"), HttpStatusCode.OK);
        // ...but has no organization-level rights.
        await Json.ProblemAsync(await member.Client.GetAsync($"/api/customers/{customer}/users/"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await member.Client.PatchAsJsonAsync($"/api/projects/{p1}/", new { name = "Mine" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await outsider.Client.GetAsync($"/api/projects/{p1}/users/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        var users = await Json.ReadArrayAsync(await member.Client.GetAsync($"/api/projects/{p1}/users/"));
        Assert.Equal(2, users.Count);

        var renamed = await Json.ReadAsync(await admin.Client.PatchAsJsonAsync($"/api/projects/{p1}/", new { name = "One (renamed)" }), HttpStatusCode.OK);
        Assert.Equal("One (renamed)", renamed["name"]!.GetValue<string>());
        await Json.ProblemAsync(await admin.Client.PatchAsJsonAsync($"/api/projects/{p1}/", new { customer = Guid.NewGuid().ToString("N") }), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.Client.PostAsJsonAsync($"/api/projects/{p1}/delete_user/", new { user = member.Uuid })).StatusCode);
        await Json.ProblemAsync(await member.Client.GetAsync($"/api/projects/{p1}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Delete_OnlyOwnersAndStaff()
    {
        var owner = await _api.NewUserAsync();
        var admin = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner);
        var p = (await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "Doomed" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/projects/{p}/add_user/", new { user = admin.Uuid, role = "admin" }), HttpStatusCode.Created);
        await Json.ProblemAsync(await admin.Client.DeleteAsync($"/api/projects/{p}/"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync($"/api/projects/{p}/")).StatusCode);
        Assert.False(await factory.WithDbAsync(db => db.Projects.AnyAsync(x => x.Name == "Doomed")));
        await Json.ProblemAsync(await owner.Client.DeleteAsync($"/api/projects/{p}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }
}
