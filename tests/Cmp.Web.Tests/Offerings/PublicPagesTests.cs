using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Cmp.Web.Tests.Seller;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Offerings;

/// <summary>The public pages as a browser and a search engine get them: plain HTML, filters as GET forms.</summary>
public sealed class PublicPagesTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private static object Plan => new
    {
        name = "Standard",
        currency = "EUR",
        components = new object[]
        {
            new { billing_type = "FIXED", name = "Monthly fee", price = 49m },
            new { billing_type = "USAGE", name = "Per call", measured_unit = "invocation", price = "0.02" },
            new { billing_type = "ONE_TIME", name = "Setup", price = 100 },
            new { billing_type = "LIMIT", name = "Included calls", measured_unit = "invocation", price = 0, limit_amount = 1000 },
        },
    };

    private static object TokenPlan => new
    {
        name = "Tokens",
        currency = "EUR",
        components = new object[] { new { billing_type = "USAGE", name = "Per 1k tokens", measured_unit = "1k_tokens", price = "0.002" } },
    };

    /// <summary>An agent taken through the seller's real steps (flow, plan, publish); returns its offering uuid.</summary>
    private static async Task<string> PublishAsync(Api.Seller seller, string name, string category = "Assistants", params object[] plans)
    {
        var client = seller.Owner.Client;
        var agent = await Api.NewAgentAsync(seller, name, category);
        await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/import_flow/", Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Created);
        Assert.Equal("READY", (await Api.WaitForRuntimeAsync(client, agent))["runtime_state"]!.GetValue<string>());
        foreach (var plan in plans.Length == 0 ? [Plan] : plans)
        {
            await Json.ReadAsync(await client.PostAsJsonAsync($"/api/provider-agents/{agent}/plans/", plan), HttpStatusCode.Created);
        }
        var published = await Json.ReadAsync(await client.PostAsync($"/api/provider-agents/{agent}/publish/", null), HttpStatusCode.OK);
        return published["offering_uuid"]!.GetValue<string>();
    }

    /// <summary>A GET as a browser sends it (it accepts HTML); the page's status and body.</summary>
    private async Task<(HttpStatusCode Status, string Html, string? MediaType)> BrowseAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        using var response = await _api.Anonymous().SendAsync(request);
        // Decoded: the renderer writes "€" as an entity.
        return (response.StatusCode, WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()), response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Marketplace_ListsActiveOfferings_SearchAndCategoryNarrow()
    {
        var seller = await _api.NewSellerAsync("Narrow Works");
        await PublishAsync(seller, "Parrot helper");
        await PublishAsync(seller, "Ledger robot", "Automations");
        await Api.NewAgentAsync(seller, "Parrot draft"); // never published

        var (status, all, media) = await BrowseAsync("/marketplace/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/html", media);
        Assert.Contains("Parrot helper", all);
        Assert.Contains("Ledger robot", all);
        Assert.DoesNotContain("Parrot draft", all);
        Assert.Contains("<form method=\"get\" action=\"/marketplace/\"", all);
        Assert.Contains(">Narrow Works</option>", all);

        var (_, searched, _) = await BrowseAsync("/marketplace/?search=parrot&category=&provider_uuid=");
        Assert.Contains("Parrot helper", searched);
        Assert.DoesNotContain("Ledger robot", searched);
        Assert.Contains("value=\"parrot\"", searched);

        var (_, automations, _) = await BrowseAsync("/marketplace/?category=Automations");
        Assert.Contains("Ledger robot", automations);
        Assert.DoesNotContain("Parrot helper", automations);
        Assert.Contains("<option value=\"Automations\" selected", automations);

        var (_, nothing, _) = await BrowseAsync("/marketplace/?search=no-such-agent-anywhere");
        Assert.Contains("No agents found", nothing);
        Assert.Contains("see every agent", nothing);
    }

    [Fact]
    public async Task Marketplace_ProviderFilter_ShowsOnlyThatProvider()
    {
        var first = await _api.NewSellerAsync("First Provider Ltd");
        var second = await _api.NewSellerAsync("Second Provider Ltd");
        await PublishAsync(first, "Otter guide");
        await PublishAsync(second, "Otter coach");

        var (_, html, _) = await BrowseAsync($"/marketplace/?provider_uuid={second.Provider}");
        Assert.Contains("Otter coach", html);
        Assert.DoesNotContain("Otter guide", html);
        Assert.Contains($"<option value=\"{second.Provider}\" selected", html);
    }

    [Fact]
    public async Task Marketplace_BadFilter_ShowsTheProblemNextToTheField()
    {
        var (status, html, _) = await BrowseAsync("/marketplace/?category=Robots");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("id=\"category-error\"", html);
        Assert.Contains("Choose one of: Agents, Apps, Assistants, Automations.", html);
    }

    [Fact]
    public async Task Marketplace_Pages_WithRelNextAndPrev()
    {
        var seller = await _api.NewSellerAsync("Paging Works");
        // Thirteen active agents: the seller's real flow once, then the same state for the others (paging is the point here).
        await PublishAsync(seller, "Zebra 00");
        var ids = new List<string>();
        for (var i = 1; i <= 12; i++)
        {
            ids.Add(await Api.NewAgentAsync(seller, $"Zebra {i:00}"));
        }
        await factory.WithDbAsync(db => db.ProviderAgents.Where(a => a.Name.StartsWith("Zebra ")).ExecuteUpdateAsync(s => s.SetProperty(a => a.State, OfferingState.Active)));

        var (_, first, _) = await BrowseAsync("/marketplace/?search=zebra");
        Assert.Contains("13 agents, page 1 of 2", first);
        Assert.Contains("Zebra 11", first);
        Assert.DoesNotContain("Zebra 12", first);
        Assert.Contains("<a rel=\"next\" href=\"/marketplace/?search=zebra&page=2\">", first);
        Assert.DoesNotContain("rel=\"prev\"", first);

        var (_, second, _) = await BrowseAsync("/marketplace/?search=zebra&page=2");
        Assert.Contains("Zebra 12", second);
        Assert.DoesNotContain("Zebra 11", second);
        Assert.Contains("<a rel=\"prev\" href=\"/marketplace/?search=zebra\">", second);
        Assert.DoesNotContain("rel=\"next\"", second);
    }

    [Fact]
    public async Task Offering_ShowsProviderPlansAndPricesPerBillingType()
    {
        var seller = await _api.NewSellerAsync("Price Works");
        var uuid = await PublishAsync(seller, "Pricing helper", "Apps", Plan, TokenPlan);

        var (status, html, _) = await BrowseAsync($"/marketplace/offerings/{uuid}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("<h1>Pricing helper</h1>", html);
        Assert.Contains("Price Works", html);
        Assert.Contains("Answers questions", html);
        Assert.Contains("Apps", html);
        Assert.Contains("€49.00 / month", html);
        Assert.Contains("€0.02 per invocation", html);
        Assert.Contains("€100.00 setup fee", html);
        Assert.Contains("1,000 invocations per month included", html);
        Assert.Contains("€0.002 per 1k tokens", html);
        Assert.Contains("<title>Pricing helper · CMP marketplace</title>", html);
        Assert.Contains("<meta name=\"description\" content=\"Pricing helper by Price Works: Answers questions\"", html);
        // Signed out: the order link goes through the sign-in page and back.
        Assert.Contains($"href=\"/login?returnUrl=%2Fmarketplace%2Fofferings%2F{uuid}%2Forder\"", html);
    }

    [Fact]
    public async Task Offering_UnknownOrDraft_IsANotFoundPage()
    {
        var seller = await _api.NewSellerAsync("Hidden Works");
        var agent = await Api.NewAgentAsync(seller, "Secret draft");
        var draft = await Json.ReadAsync(await seller.Owner.Client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK);
        var draftOffering = draft["offering_uuid"]!.GetValue<string>();

        foreach (var path in new[] { $"/marketplace/offerings/{draftOffering}", $"/marketplace/offerings/{Guid.NewGuid():N}", "/marketplace/offerings/not-a-uuid" })
        {
            var (status, html, _) = await BrowseAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Contains("<h1>Not found</h1>", html);
            Assert.DoesNotContain("Secret draft", html);
        }
    }

    [Fact]
    public async Task Home_ShowsTheNewestOfferings()
    {
        var seller = await _api.NewSellerAsync("Home Works");
        var uuid = await PublishAsync(seller, "Front page helper");

        var (status, html, _) = await BrowseAsync("/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Front page helper", html);
        Assert.Contains($"href=\"/marketplace/offerings/{uuid}\"", html);
        Assert.Contains("How it works", html);
        Assert.Contains("<meta name=\"description\"", html);
    }

    [Fact]
    public async Task UnknownPath_InABrowser_IsTheNotFoundPage_AndUnderApiAProblem()
    {
        var (status, html, media) = await BrowseAsync("/no/such/page");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("text/html", media);
        Assert.Contains("<h1>Not found</h1>", html);

        // The API's paths keep their problem details, whatever the client accepts.
        var (apiStatus, apiBody, apiMedia) = await BrowseAsync("/api/no-such-thing/");
        Assert.Equal(HttpStatusCode.NotFound, apiStatus);
        Assert.Equal("application/problem+json", apiMedia);
        Assert.Contains(ProblemTypes.NotFound, apiBody);
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/no/such/page"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }
}
