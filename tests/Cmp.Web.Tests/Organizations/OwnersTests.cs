using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cmp.Web.Tests.Organizations;

/// <summary>An organization keeps at least one owner, also when owners remove each other at the same moment.</summary>
public sealed class OwnersTests(CmpFactory factory, ITestOutputHelper output) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private async Task<(string Customer, Api.User A, Api.User B)> TwoOwnersAsync()
    {
        var a = await _api.NewUserAsync();
        var b = await _api.NewUserAsync();
        var customer = await _api.NewCustomerAsync(a, "Owned " + Guid.NewGuid().ToString("N")[..6]);
        await Json.ReadAsync(await a.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = b.Uuid, role = "owner" }), HttpStatusCode.Created);
        return (customer, a, b);
    }

    /// <summary>The owners' uuids, as staff read them over HTTP.</summary>
    private async Task<List<string>> OwnersAsync(string customer)
    {
        var users = await Json.ReadArrayAsync(await (await _api.StaffAsync()).GetAsync($"/api/customers/{customer}/users/"));
        return users.Where(u => u!["role"]!.GetValue<string>() == "owner").Select(u => u!["user_uuid"]!.GetValue<string>()).ToList();
    }

    [Fact]
    public async Task DeleteUser_OneOfTwoOwners_Is204_AndTheOtherRemains()
    {
        var (customer, a, b) = await TwoOwnersAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await a.Client.PostAsJsonAsync($"/api/customers/{customer}/delete_user/", new { user = b.Uuid, role = "owner" })).StatusCode);
        Assert.Equal([a.Uuid], await OwnersAsync(customer));
    }

    [Fact]
    public async Task DeleteUser_LastOwner_Is409_AndRemovesNone_OfItsRoles()
    {
        var (customer, a, b) = await TwoOwnersAsync();
        var url = $"/api/customers/{customer}/delete_user/";
        await Json.ReadAsync(await a.Client.PostAsJsonAsync($"/api/customers/{customer}/add_user/", new { user = a.Uuid, role = "manager" }), HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.NoContent, (await a.Client.PostAsJsonAsync(url, new { user = b.Uuid })).StatusCode);

        var problem = await Json.ProblemAsync(await a.Client.PostAsJsonAsync(url, new { user = a.Uuid, role = "owner" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Contains("at least one owner", problem["detail"]!.GetValue<string>());
        // Without a role every role of the user goes, or none: the manager role stays too.
        await Json.ProblemAsync(await a.Client.PostAsJsonAsync(url, new { user = a.Uuid }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Equal([a.Uuid], await OwnersAsync(customer));
        var roles = await Json.ReadArrayAsync(await a.Client.GetAsync($"/api/customers/{customer}/users/"));
        Assert.Equal(["manager", "owner"], roles.Select(r => r!["role"]!.GetValue<string>()).Order().ToArray());
    }

    /// <summary>
    /// Both requests fire at once, 20 times on fresh organizations. Exactly one wins and its remover stays the only owner.
    /// A loser that passed its own owner check before the winner committed is the 409 of the rule; one that only
    /// started after the commit is no longer an owner, so it is refused as such (403, or 404 once it sees nothing).
    /// </summary>
    [Fact]
    public async Task DeleteUser_TwoOwnersRemoveEachOtherAtOnce_ExactlyOneWins_AndAnOwnerRemains()
    {
        var conflicts = 0;
        for (var round = 0; round < 20; round++)
        {
            var (customer, a, b) = await TwoOwnersAsync();
            var url = $"/api/customers/{customer}/delete_user/";
            var answers = await Task.WhenAll(
                a.Client.PostAsJsonAsync(url, new { user = b.Uuid, role = "owner" }),
                b.Client.PostAsJsonAsync(url, new { user = a.Uuid, role = "owner" }));

            var bodies = string.Join(" | ", await Task.WhenAll(answers.Select(r => r.Content.ReadAsStringAsync())));
            var why = $"round {round}: {string.Join(", ", answers.Select(r => (int)r.StatusCode))} {bodies}";
            Assert.True(answers.Count(r => r.StatusCode == HttpStatusCode.NoContent) == 1, why);
            var loser = answers.Single(r => r.StatusCode != HttpStatusCode.NoContent);
            switch (loser.StatusCode)
            {
                case HttpStatusCode.Conflict:
                    conflicts++;
                    Assert.Contains("at least one owner", (await Json.ProblemAsync(loser, HttpStatusCode.Conflict, ProblemTypes.Conflict))["detail"]!.GetValue<string>());
                    break;
                case HttpStatusCode.Forbidden:
                    await Json.ProblemAsync(loser, HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
                    break;
                default:
                    await Json.ProblemAsync(loser, HttpStatusCode.NotFound, ProblemTypes.NotFound);
                    break;
            }

            var winner = answers[0].StatusCode == HttpStatusCode.NoContent ? a : b;
            Assert.Equal([winner.Uuid], await OwnersAsync(customer));
        }
        output.WriteLine($"{conflicts} of 20 rounds raced to the owner check (409); the others were refused as non-owners.");
    }
}
