using System.Net;
using System.Text.RegularExpressions;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Platform;

/// <summary>The list conventions at the edges of <c>page</c>: past the end, at int.MaxValue, and not a positive int.</summary>
public sealed partial class ListPagingTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    /// <summary>rel → page number, from a <c>Link</c> header.</summary>
    private static Dictionary<string, string> Links(HttpResponseMessage response) =>
        LinkPart().Matches(response.Headers.GetValues("Link").Single()).ToDictionary(m => m.Groups["rel"].Value, m => m.Groups["page"].Value);

    [GeneratedRegex("<[^>]*[?&]page=(?<page>[^&>]*)[^>]*>; rel=\"(?<rel>[a-z]+)\"")]
    private static partial Regex LinkPart();

    private async Task<Api.User> OwnerOfTwoAsync()
    {
        var owner = await _api.NewUserAsync();
        await _api.NewCustomerAsync(owner, "Alpha");
        await _api.NewCustomerAsync(owner, "Beta");
        return owner;
    }

    [Theory]
    [InlineData("2147483647", "")]
    [InlineData("2147483647", "&page_size=300")]
    [InlineData("2147483647", "&page_size=1")]
    [InlineData("2", "")]
    [InlineData("3", "&page_size=1")]
    public async Task List_PagePastTheEnd_IsEmpty_WithCountAndLinks(string page, string size)
    {
        var owner = await OwnerOfTwoAsync();
        var response = await owner.Client.GetAsync($"/api/customers/?page={page}{size}");
        Assert.Empty(await Json.ReadArrayAsync(response));
        Assert.Equal("2", response.Headers.GetValues("X-Result-Count").Single());
        var last = size == "&page_size=1" ? "2" : "1";
        var links = Links(response);
        Assert.Equal("1", links["first"]);
        Assert.Equal(last, links["prev"]);
        Assert.Equal(last, links["last"]);
        Assert.False(links.ContainsKey("next"));
    }

    [Fact]
    public async Task List_PageWithinRange_ReturnsItsRows_WithLinks()
    {
        var owner = await OwnerOfTwoAsync();
        var response = await owner.Client.GetAsync("/api/customers/?page=2&page_size=1&o=name");
        var rows = await Json.ReadArrayAsync(response);
        Assert.Equal("Beta", Assert.Single(rows)!["name"]!.GetValue<string>());
        Assert.Equal("2", response.Headers.GetValues("X-Result-Count").Single());
        var links = Links(response);
        Assert.Equal("1", links["prev"]);
        Assert.Equal("2", links["last"]);
        Assert.False(links.ContainsKey("next"));
    }

    [Theory]
    [InlineData("2147483648")]
    [InlineData("99999999999999999999")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("x")]
    [InlineData("1.5")]
    [InlineData("+1")]
    public async Task List_PageNotAPositiveInt_Is400NamingPage(string page)
    {
        var owner = await OwnerOfTwoAsync();
        var problem = await Json.ProblemAsync(await owner.Client.GetAsync($"/api/customers/?page={Uri.EscapeDataString(page)}"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(problem["errors"]!["page"]);
        Assert.Null(problem["errors"]!["page_size"]);
    }
}
