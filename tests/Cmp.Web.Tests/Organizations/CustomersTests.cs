using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Organizations;

public sealed class CustomersTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    /// <summary>An organization with an owner, a support user, an unrelated user; plus staff and anonymous.</summary>
    private async Task<(string Customer, Api.User Owner, Api.User Support, Api.User Outsider)> WorldAsync()
    {
        var owner = await _api.NewUserAsync();
        var support = await _api.NewUserAsync();
        var outsider = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(owner, "Acme " + Guid.NewGuid().ToString("N")[..6]);
        await Json.ReadAsync(await owner.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { email = support.Email, role = "support" }), HttpStatusCode.Created);
        return (customer, owner, support, outsider);
    }

    [Fact]
    public async Task Create_OnlyStaff_Others403_Anonymous401()
    {
        var user = await _api.NewUserAsync();
        await Json.ProblemAsync(await user.Client.PostAsJsonAsync("/api/customers/", new { name = "Mine" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/customers/", new { name = "Mine" }), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        var staff = await _api.StaffAsync();
        var created = await Json.ReadAsync(await staff.PostAsJsonAsync("/api/customers/", new { name = "Staff made", abbreviation = "SM", email = "Billing@Example.com" }), HttpStatusCode.Created);
        Assert.Equal("billing@example.com", created["email"]!.GetValue<string>());
        Assert.EndsWith($"/api/customers/{created["uuid"]}/", created["url"]!.GetValue<string>());
        // Default project creation is off by default.
        Assert.False(await factory.WithDbAsync(db => db.Projects.AnyAsync(p => p.Customer.Name == "Staff made")));
    }

    [Fact]
    public async Task Create_BadInput_Is400AndChangesNothing()
    {
        var staff = await _api.StaffAsync();
        var before = await factory.WithDbAsync(db => db.Customers.CountAsync());
        var problem = await Json.ProblemAsync(await staff.PostAsJsonAsync("/api/customers/", new { name = "", abbreviation = new string('A', 13), email = "nope" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(problem["errors"]!["name"]);
        Assert.NotNull(problem["errors"]!["abbreviation"]);
        Assert.NotNull(problem["errors"]!["email"]);
        await Json.ProblemAsync(await staff.PostAsJsonAsync("/api/customers/", new { name = new string('n', 151) }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await staff.PostAsync("/api/customers/", Json.Raw("[1,2")), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await Json.ProblemAsync(await staff.PostAsync("/api/customers/", Json.Raw("{\"name\": 42}")), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        Assert.Equal(before, await factory.WithDbAsync(db => db.Customers.CountAsync()));
    }

    [Fact]
    public async Task SelfRegister_Disabled_Is403SayingWhy()
    {
        var user = await _api.NewUserAsync();
        var problem = await Json.ProblemAsync(await user.Client.PostAsJsonAsync("/api/customers/self_register/", new { name = "Mine" }),
            HttpStatusCode.Forbidden, ProblemTypes.SelfRegistrationDisabled);
        Assert.Contains("ONBOARDING_UNIVERSAL_AUTO_APPROVE", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_AllowDenyMatrix()
    {
        var (customer, owner, support, outsider) = await WorldAsync();
        var url = $"/api/customers/{customer}/";
        await Json.ProblemAsync(await _api.Anonymous().GetAsync(url), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await Json.ProblemAsync(await outsider.Client.GetAsync(url), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ReadAsync(await support.Client.GetAsync(url), HttpStatusCode.OK);
        await Json.ReadAsync(await owner.Client.GetAsync(url), HttpStatusCode.OK);
        await Json.ReadAsync(await (await _api.StaffAsync()).GetAsync(url), HttpStatusCode.OK);
        // Unknown and malformed uuids are 404 too.
        await Json.ProblemAsync(await owner.Client.GetAsync($"/api/customers/{Guid.NewGuid():N}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await owner.Client.GetAsync("/api/customers/not-a-uuid/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Patch_AllowDenyMatrix_AndNothingChangesOnRefusal()
    {
        var (customer, owner, support, outsider) = await WorldAsync();
        var url = $"/api/customers/{customer}/";
        await Json.ProblemAsync(await _api.Anonymous().PatchAsJsonAsync(url, new { name = "X" }), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await Json.ProblemAsync(await outsider.Client.PatchAsJsonAsync(url, new { name = "X" }), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await support.Client.PatchAsJsonAsync(url, new { name = "X" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await owner.Client.PatchAsJsonAsync(url, new { name = " " }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        var unchanged = await Json.ReadAsync(await owner.Client.GetAsync(url), HttpStatusCode.OK);
        Assert.StartsWith("Acme", unchanged["name"]!.GetValue<string>());

        var patched = await Json.ReadAsync(await owner.Client.PatchAsJsonAsync(url, new { description = "We sell widgets" }), HttpStatusCode.OK);
        Assert.Equal("We sell widgets", patched["description"]!.GetValue<string>());
        Assert.StartsWith("Acme", patched["name"]!.GetValue<string>());
        await Json.ReadAsync(await (await _api.StaffAsync()).PatchAsJsonAsync(url, new { name = "Renamed by staff" }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task List_ShowsOnlyMyOrganizations_WithPagingHeaders()
    {
        var (customer, owner, _, outsider) = await WorldAsync();
        var second = await _api.NewCustomerAsync(owner, "Zeta " + Guid.NewGuid().ToString("N")[..6]);
        var response = await owner.Client.GetAsync("/api/customers/?page_size=1&o=-name");
        var page = await Json.ReadArrayAsync(response);
        Assert.Single(page);
        Assert.Equal(second, page[0]!["uuid"]!.GetValue<string>());
        Assert.Equal("2", response.Headers.GetValues("X-Result-Count").Single());
        var link = response.Headers.GetValues("Link").Single();
        Assert.Contains("rel=\"next\"", link);
        Assert.Contains("page=2", link);

        Assert.Empty(await Json.ReadArrayAsync(await outsider.Client.GetAsync("/api/customers/")));
        var searched = await Json.ReadArrayAsync(await owner.Client.GetAsync("/api/customers/?search=zeta"));
        Assert.Single(searched);
        Assert.NotEqual(customer, searched[0]!["uuid"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_BadQuery_Is400()
    {
        var user = await _api.NewUserAsync();
        var problem = await Json.ProblemAsync(await user.Client.GetAsync("/api/customers/?o=password"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(problem["errors"]!["o"]);
        await Json.ProblemAsync(await user.Client.GetAsync("/api/customers/?page=0"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await user.Client.GetAsync("/api/customers/?page_size=abc"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        // Oversized pages are capped, not refused.
        var capped = await user.Client.GetAsync("/api/customers/?page_size=100000");
        Assert.Equal(HttpStatusCode.OK, capped.StatusCode);
    }

    [Fact]
    public async Task AddUser_AllowDenyMatrix_AndInputRules()
    {
        var (customer, owner, support, outsider) = await WorldAsync();
        var newcomer = await _api.NewUserAsync();
        var url = $"/api/customers/{customer}/add_user/";
        await Json.ProblemAsync(await outsider.Client.PostAsJsonAsync(url, new { user = newcomer.Uuid, role = "manager" }), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await support.Client.PostAsJsonAsync(url, new { user = newcomer.Uuid, role = "manager" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var bad = await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { user = newcomer.Uuid, role = "emperor" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("owner", bad["errors"]!["role"]![0]!.GetValue<string>());
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { user = newcomer.Uuid, role = "0" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { user = Guid.NewGuid().ToString("N"), role = "manager" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { role = "manager" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        var added = await Json.ReadAsync(await owner.Client.PostAsJsonAsync(url, new { user = $"http://localhost/api/users/{newcomer.Uuid}/", role = "manager" }), HttpStatusCode.Created);
        Assert.Equal("manager", added["role"]!.GetValue<string>());
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { email = newcomer.Email, role = "manager" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        // The newcomer now sees the organization; the membership shows in /me and in users/.
        await Json.ReadAsync(await newcomer.Client.GetAsync($"/api/customers/{customer}/"), HttpStatusCode.OK);
        var me = await Json.ReadAsync(await newcomer.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK);
        Assert.Equal("manager", me["customer_permissions"]![0]!["role"]!.GetValue<string>());
        var users = await Json.ReadArrayAsync(await support.Client.GetAsync($"/api/customers/{customer}/users/"));
        Assert.Equal(3, users.Count);
        await Json.ProblemAsync(await outsider.Client.GetAsync($"/api/customers/{customer}/users/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task DeleteUser_RemovesRole_ButNeverTheLastOwner()
    {
        var (customer, owner, support, _) = await WorldAsync();
        var url = $"/api/customers/{customer}/delete_user/";
        await Json.ProblemAsync(await support.Client.PostAsJsonAsync(url, new { user = owner.Uuid }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { user = owner.Uuid, role = "owner" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.PostAsJsonAsync(url, new { user = support.Uuid, role = "support" })).StatusCode);
        await Json.ProblemAsync(await support.Client.GetAsync($"/api/customers/{customer}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await owner.Client.PostAsJsonAsync(url, new { user = support.Uuid }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
    }

    [Fact]
    public async Task ConcurrentUpdates_OfTheSameRow_LoseNothingSilently()
    {
        var (customer, _, _, _) = await WorldAsync();
        var id = Guid.ParseExact(customer, "N");
        // Two writers read the same version; the second save must fail instead of overwriting.
        await using var scope1 = factory.Services.CreateAsyncScope();
        await using var scope2 = factory.Services.CreateAsyncScope();
        var db1 = scope1.ServiceProvider.GetRequiredService<Cmp.Web.Infrastructure.Persistence.CmpDbContext>();
        var db2 = scope2.ServiceProvider.GetRequiredService<Cmp.Web.Infrastructure.Persistence.CmpDbContext>();
        var c1 = await db1.Customers.SingleAsync(c => c.Id == id);
        var c2 = await db2.Customers.SingleAsync(c => c.Id == id);
        c1.Description = "first";
        c2.Description = "second";
        await db1.SaveChangesAsync();
        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => db2.SaveChangesAsync());
        Assert.Equal("first", await factory.WithDbAsync(db => db.Customers.Where(c => c.Id == id).Select(c => c.Description).SingleAsync()));
    }
}

/// <summary>Self-registration and the default project switched on.</summary>
public sealed class OnboardingFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ONBOARDING_UNIVERSAL_AUTO_APPROVE"] = "true",
        ["CREATE_DEFAULT_PROJECT_ON_ORGANIZATION_CREATION"] = "true",
    };
}

public sealed class SelfRegistrationTests(OnboardingFactory factory) : IClassFixture<OnboardingFactory>
{
    [Fact]
    public async Task SelfRegister_Enabled_MakesCallerOwner_WithDefaultProjectAdmin()
    {
        var api = new Api(factory);
        var user = await api.NewUserAsync();
        var created = await Json.ReadAsync(await user.Client.PostAsJsonAsync("/api/customers/self_register/", new { name = "Self made" }), HttpStatusCode.Created);
        var uuid = created["uuid"]!.GetValue<string>();
        var me = await Json.ReadAsync(await user.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK);
        Assert.Equal("owner", me["customer_permissions"]![0]!["role"]!.GetValue<string>());
        Assert.Equal(uuid, me["customer_permissions"]![0]!["customer_uuid"]!.GetValue<string>());
        Assert.Equal("Default project", me["project_permissions"]![0]!["project_name"]!.GetValue<string>());
        Assert.Equal("admin", me["project_permissions"]![0]!["role"]!.GetValue<string>());
        var projects = await Json.ReadArrayAsync(await user.Client.GetAsync($"/api/projects/?customer_uuid={uuid}"));
        Assert.Single(projects);

        // Owners hold REGISTER_SERVICE_PROVIDER and APPROVE_ORDER through the role table.
        var config = await Json.ReadAsync(await api.Anonymous().GetAsync("/api/configuration/"), HttpStatusCode.OK);
        Assert.True(config["ONBOARDING_UNIVERSAL_AUTO_APPROVE"]!.GetValue<bool>());
        Assert.True(config["CREATE_DEFAULT_PROJECT_ON_ORGANIZATION_CREATION"]!.GetValue<bool>());

        // Bad input is still refused and creates nothing.
        var before = await factory.WithDbAsync(db => db.Customers.CountAsync());
        await Json.ProblemAsync(await user.Client.PostAsJsonAsync("/api/customers/self_register/", new { name = "" }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Equal(before, await factory.WithDbAsync(db => db.Customers.CountAsync()));
    }

    [Fact]
    public async Task SelfRegister_MultipleOrganizationsPerUser()
    {
        var api = new Api(factory);
        var user = await api.NewUserAsync();
        await Json.ReadAsync(await user.Client.PostAsJsonAsync("/api/customers/self_register/", new { name = "One" }), HttpStatusCode.Created);
        await Json.ReadAsync(await user.Client.PostAsJsonAsync("/api/customers/self_register/", new { name = "Two" }), HttpStatusCode.Created);
        var mine = await Json.ReadArrayAsync(await user.Client.GetAsync("/api/customers/"));
        Assert.Equal(["One", "Two"], mine.Select(c => c!["name"]!.GetValue<string>()).ToArray());
    }
}
