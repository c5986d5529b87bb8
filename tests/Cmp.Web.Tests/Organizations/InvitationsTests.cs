using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Organizations;

public sealed class InvitationsTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [Fact]
    public async Task Invite_EmailedLink_InviteeAccepts_AndHoldsTheRole()
    {
        var owner = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner);
        var inviteeEmail = $"invitee-{Guid.NewGuid():N}@example.com";
        var invitation = await Json.ReadAsync(
            await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = inviteeEmail, role = "manager" }), HttpStatusCode.Created);
        Assert.Equal("pending", invitation["state"]!.GetValue<string>());
        var uuid = invitation["uuid"]!.GetValue<string>();

        var mail = await _api.LatestEmailAsync(inviteeEmail);
        var body = mail["body"]!.GetValue<string>();
        Assert.Matches($"/invitations/{uuid}/", body);
        Assert.Contains($"/api/user-invitations/{uuid}/accept/", body);

        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = inviteeEmail, role = "manager" }),
            HttpStatusCode.Conflict, ProblemTypes.Conflict);

        var stranger = await _api.NewUserAsync();
        await Json.ProblemAsync(await stranger.Client.PostAsync($"/api/user-invitations/{uuid}/accept/", null), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await stranger.Client.GetAsync($"/api/user-invitations/{uuid}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        var invitee = await _api.NewUserAsync(inviteeEmail);
        Assert.Single(await Json.ReadArrayAsync(await invitee.Client.GetAsync("/api/user-invitations/")));
        var accepted = await Json.ReadAsync(await invitee.Client.PostAsync($"/api/user-invitations/{uuid}/accept/", null), HttpStatusCode.OK);
        Assert.Equal("accepted", accepted["state"]!.GetValue<string>());
        await Json.ProblemAsync(await invitee.Client.PostAsync($"/api/user-invitations/{uuid}/accept/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);

        var me = await Json.ReadAsync(await invitee.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK);
        Assert.Equal("manager", me["customer_permissions"]![0]!["role"]!.GetValue<string>());
        await Json.ProblemAsync(await owner.Client.PostAsync($"/api/user-invitations/{uuid}/cancel/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
    }

    [Fact]
    public async Task Invite_Refusals_AndProjectInvitation()
    {
        var owner = await _api.NewUserAsync();
        var support = await _api.NewUserAsync();
        var outsider = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner);
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = support.Uuid, role = "support" }), HttpStatusCode.Created);
        var project = (await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/projects/", new { customer, name = "P" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();

        await Json.ProblemAsync(await support.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = "x@example.com", role = "owner" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await outsider.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = "x@example.com", role = "owner" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = "x@example.com", role = "admin" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, project, email = "x@example.com", role = "admin" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = "not-an-email", role = "owner" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Equal(0, await factory.WithDbAsync(db => db.Invitations.CountAsync(i => i.Customer.Id == Guid.ParseExact(customer, "N"))));

        var email = $"dev-{Guid.NewGuid():N}@example.com";
        var invitation = await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { project, email, role = "member" }), HttpStatusCode.Created);
        Assert.Equal(project, invitation["project_uuid"]!.GetValue<string>());
        var uuid = invitation["uuid"]!.GetValue<string>();

        // Support cannot cancel; the owner can; a canceled invitation cannot be accepted.
        await Json.ProblemAsync(await support.Client.PostAsync($"/api/user-invitations/{uuid}/cancel/", null), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ReadAsync(await owner.Client.PostAsync($"/api/user-invitations/{uuid}/cancel/", null), HttpStatusCode.OK);
        var invitee = await _api.NewUserAsync(email);
        await Json.ProblemAsync(await invitee.Client.PostAsync($"/api/user-invitations/{uuid}/accept/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        await Json.ProblemAsync(await invitee.Client.GetAsync($"/api/projects/{project}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Accept_AfterExpiry_Is409()
    {
        var owner = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner);
        var email = $"late-{Guid.NewGuid():N}@example.com";
        var uuid = (await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email, role = "support" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        await factory.WithDbAsync(db => db.Invitations.Where(i => i.Email == email).ExecuteUpdateAsync(s => s.SetProperty(i => i.ExpiresAt, DateTime.UtcNow.AddMinutes(-1))));
        var invitee = await _api.NewUserAsync(email);
        var shown = await Json.ReadAsync(await invitee.Client.GetAsync($"/api/user-invitations/{uuid}/"), HttpStatusCode.OK);
        Assert.Equal("expired", shown["state"]!.GetValue<string>());
        var problem = await Json.ProblemAsync(await invitee.Client.PostAsync($"/api/user-invitations/{uuid}/accept/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
        Assert.Contains("expired", problem["detail"]!.GetValue<string>());
        Assert.DoesNotMatch(new Regex("owner|support"), (await Json.ReadAsync(await invitee.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK))["customer_permissions"]!.ToJsonString());
    }
}
