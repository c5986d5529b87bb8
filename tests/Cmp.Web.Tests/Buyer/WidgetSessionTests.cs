using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Features.Gateway;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Buyer;

public sealed class WidgetSessionTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private static HttpRequestMessage Session(string widget, string key, string? origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/widget-session/") { Content = JsonContent.Create(new { widget_id = widget, api_key = key }) };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        return request;
    }

    [Theory]
    [InlineData("https://acme.com", true)]
    [InlineData("https://shop.acme.com", true)]
    [InlineData("http://localhost:5173", true)]
    [InlineData("https://acme.com.evil.com", false)]
    [InlineData("https://evilacme.com", false)]
    [InlineData("https://acme.co", false)]
    [InlineData("null", false)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("http://[::2]:8080", false)]
    [InlineData("http://127.0.0.1:3000", true)]
    public async Task Origin_MustMatchAllowedDomains(string origin, bool allowed)
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/",
            new { allowed_domains = new[] { "acme.com", "*.acme.com", "localhost", "::1", "127.0.0.1" }, agent_name = "Acme helper", greeting = "Hello!" }), HttpStatusCode.OK);
        var key = await world.KeyAsync("publishable", "site");
        var response = await _api.Anonymous().SendAsync(Session(world.Config, key, origin));
        if (allowed)
        {
            var session = await Json.ReadAsync(response, HttpStatusCode.OK);
            Assert.Equal(origin, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("Origin", response.Headers.Vary);
            Assert.Equal("Acme helper", session["config"]!["agent_name"]!.GetValue<string>());
            Assert.Equal("Hello!", session["config"]!["greeting"]!.GetValue<string>());
            Assert.Null(session["config"]!["system_prompt"]);
            var token = session["token"]!.GetValue<string>();

            // The token works from its own origin only.
            var invoke = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(new { input = "Hi from the widget" }) };
            invoke.Headers.Authorization = new("Bearer", token);
            invoke.Headers.Add("Origin", origin);
            var answer = await Json.ReadAsync(await _api.Anonymous().SendAsync(invoke), HttpStatusCode.OK);
            Assert.StartsWith("[dev] Hi from the widget", answer["output"]!.GetValue<string>());
            var stolen = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(new { input = "x" }) };
            stolen.Headers.Authorization = new("Bearer", token);
            stolen.Headers.Add("Origin", "https://evil.com");
            await Json.ProblemAsync(await _api.Anonymous().SendAsync(stolen), HttpStatusCode.Forbidden, GatewayProblems.OriginNotAllowed);
        }
        else
        {
            await Json.ProblemAsync(response, HttpStatusCode.Forbidden, GatewayProblems.OriginNotAllowed);
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task NoOrigin_EmptyList_SecretKey_WrongWidget_AreRefused()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync("publishable", "site");
        // An empty list allows no site.
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(world.Config, key, "https://acme.com")), HttpStatusCode.Forbidden, GatewayProblems.OriginNotAllowed);
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "acme.com" } }), HttpStatusCode.OK);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(world.Config, key, null)), HttpStatusCode.Forbidden, GatewayProblems.OriginNotAllowed);
        var secret = await world.KeyAsync("secret", "server");
        var advice = await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(world.Config, secret, "https://acme.com")), HttpStatusCode.BadRequest, GatewayProblems.SecretKeyInBrowser);
        Assert.Contains("publishable", advice["detail"]!.GetValue<string>());
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(Guid.NewGuid().ToString("N"), key, "https://acme.com")), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        await Json.ReadAsync(await _api.Anonymous().SendAsync(Session(world.Config, key, "https://acme.com")), HttpStatusCode.OK);
        var forged = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(new { input = "x" }) };
        forged.Headers.Authorization = new("Bearer", "wst_forged-token");
        forged.Headers.Add("Origin", "https://acme.com");
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(forged), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
    }

    [Fact]
    public async Task RevokingThePublishableKey_EndsTheSessionsItOpened_AtOnce_OtherKeysSessionsGoOn()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "acme.com" } }), HttpStatusCode.OK);
        var revoked = await world.KeyAsync("publishable", "old site");
        var kept = await world.KeyAsync("publishable", "new site");
        async Task<string> OpenAsync(string key) =>
            (await Json.ReadAsync(await _api.Anonymous().SendAsync(Session(world.Config, key, "https://acme.com")), HttpStatusCode.OK))["token"]!.GetValue<string>();
        HttpRequestMessage Ask(string token)
        {
            var r = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(new { input = "Hi" }) };
            r.Headers.Authorization = new("Bearer", token);
            r.Headers.Add("Origin", "https://acme.com");
            return r;
        }
        var doomed = await OpenAsync(revoked);
        var living = await OpenAsync(kept);
        await Json.ReadAsync(await _api.Anonymous().SendAsync(Ask(doomed)), HttpStatusCode.OK);

        var keys = await Json.ReadArrayAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/"));
        var id = keys.Single(k => k!["name"]!.GetValue<string>() == "old site")!["uuid"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await world.Buyer.Client.DeleteAsync($"/api/customer-agent-configs/{world.Config}/api_keys/{id}/")).StatusCode);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Ask(doomed)), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(world.Config, revoked, "https://acme.com")), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        await Json.ReadAsync(await _api.Anonymous().SendAsync(Ask(living)), HttpStatusCode.OK);
    }

    [Fact]
    public async Task AnOpenSession_FollowsTheConfig_DomainRemoved_ResourceTerminated_AnotherBuyersKey()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "acme.com", "shop.example" } }), HttpStatusCode.OK);
        var key = await world.KeyAsync("publishable", "site");
        async Task<string> OpenAsync(string origin) =>
            (await Json.ReadAsync(await _api.Anonymous().SendAsync(Session(world.Config, key, origin)), HttpStatusCode.OK))["token"]!.GetValue<string>();
        HttpRequestMessage Ask(string token, string origin)
        {
            var r = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = JsonContent.Create(new { input = "Hi" }) };
            r.Headers.Authorization = new("Bearer", token);
            r.Headers.Add("Origin", origin);
            return r;
        }
        var acme = await OpenAsync("https://acme.com");
        var shop = await OpenAsync("https://shop.example");
        await Json.ReadAsync(await _api.Anonymous().SendAsync(Ask(acme, "https://acme.com")), HttpStatusCode.OK);

        // The buyer takes acme.com off the list: its open session stops at once, the other site's goes on.
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "shop.example" } }), HttpStatusCode.OK);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Ask(acme, "https://acme.com")), HttpStatusCode.Forbidden, GatewayProblems.OriginNotAllowed);
        await Json.ReadAsync(await _api.Anonymous().SendAsync(Ask(shop, "https://shop.example")), HttpStatusCode.OK);

        // Another buyer's publishable key does not open this widget.
        var other = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await Json.ReadAsync(await other.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{other.Config}/", new { allowed_domains = new[] { "shop.example" } }), HttpStatusCode.OK);
        var othersKey = await other.KeyAsync("publishable", "their site");
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(world.Config, othersKey, "https://shop.example")), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        await Json.ReadAsync(await _api.Anonymous().SendAsync(Session(other.Config, othersKey, "https://shop.example")), HttpStatusCode.OK);

        // The subscription ends: no new session, and the open one is refused.
        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Session(world.Config, key, "https://shop.example")), HttpStatusCode.Forbidden, GatewayProblems.ResourceNotActive);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(Ask(shop, "https://shop.example")), HttpStatusCode.Forbidden, GatewayProblems.ResourceNotActive);
    }

    [Fact]
    public async Task Preflight_AnswersOnlyAllowedOrigins()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "preflight.example" } }), HttpStatusCode.OK);
        HttpRequestMessage Options(string origin)
        {
            var r = new HttpRequestMessage(HttpMethod.Options, "/api/agent-gateway/invoke/");
            r.Headers.Add("Origin", origin);
            r.Headers.Add("Access-Control-Request-Method", "POST");
            return r;
        }
        var ok = await _api.Anonymous().SendAsync(Options("https://preflight.example"));
        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        Assert.Equal("https://preflight.example", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var refused = await _api.Anonymous().SendAsync(Options("https://elsewhere.example"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));

        // The allowed origins are cached; taking a domain off the list refuses its next preflight.
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "moved.example" } }), HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.Forbidden, (await _api.Anonymous().SendAsync(Options("https://preflight.example"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _api.Anonymous().SendAsync(Options("https://moved.example"))).StatusCode);
    }
}

public sealed class TightGatewayFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Gateway:RateLimitPerMinute"] = "3" };
}

public sealed class GatewayRateLimitTests(TightGatewayFactory factory) : IClassFixture<TightGatewayFactory>
{
    [Fact]
    public async Task RateLimit_Is429WithRetryAfterAndRateLimitHeaders_AndAnotherKeyOfTheSameResourceSharesIt()
    {
        var api = new Api(factory);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting");
        var key = await world.KeyAsync();
        for (var i = 0; i < 3; i++)
        {
            var ok = await api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = $"call {i}" }));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("3", ok.Headers.GetValues("RateLimit-Limit").Single());
            // What is left now, and when the bucket is full again (one request back every 20 s at 3 a minute); a
            // refill between two calls may give one back, never more.
            var remaining = int.Parse(ok.Headers.GetValues("RateLimit-Remaining").Single(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(remaining, 2 - i, Math.Min(2, 3 - i));
            var reset = int.Parse(ok.Headers.GetValues("RateLimit-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(reset, (3 - remaining - 1) * 20 + 1, (3 - remaining) * 20);
        }
        var limited = await api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "one too many" }));
        await Json.ProblemAsync(limited, HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Equal("0", limited.Headers.GetValues("RateLimit-Remaining").Single());
        // A second key of the same resource draws on the resource's bucket too: more keys never mean more calls.
        var other = await world.KeyAsync("secret", "second");
        await Json.ProblemAsync(await api.Anonymous().SendAsync(BuyerWorld.Invoke(other, new { input = "same resource" })), HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        // Another buyer's resource has its own.
        var elsewhere = await BuyerWorld.CreateAsync(api, "Basic Prompting");
        await Json.ReadAsync(await api.Anonymous().SendAsync(BuyerWorld.Invoke(await elsewhere.KeyAsync(), new { input = "fresh bucket" })), HttpStatusCode.OK);
        var configId = Guid.ParseExact(world.Config, "N");
        Assert.Equal(3, await factory.WithDbAsync(db => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(db.UsageRecords, u => u.ConfigId == configId)));
    }

    [Fact]
    public async Task PlanRateLimit_OverridesThePlatformDefault()
    {
        var api = new Api(factory);
        await Json.ProblemAsync(await (await api.NewSellerAsync()).Owner.Client.PostAsJsonAsync($"/api/provider-agents/{Guid.NewGuid():N}/plans/", new { }), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        var plan = new { name = "Slow", currency = "EUR", rate_limit_per_minute = 2, components = new[] { new { billing_type = "FIXED", name = "Monthly", price = 1 } } };
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting", plan);
        var bad = await Json.ProblemAsync(await world.Seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{world.Agent}/plans/",
            new { name = "Zero", currency = "EUR", rate_limit_per_minute = 0, components = new[] { new { billing_type = "FIXED", name = "Monthly", price = 1 } } }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(bad["errors"]!["rate_limit_per_minute"]);
        var key = await world.KeyAsync();
        await BuyerWorld.AskAsync(api.Anonymous(), key, "one");
        await BuyerWorld.AskAsync(api.Anonymous(), key, "two");
        var limited = await api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "three" }));
        await Json.ProblemAsync(limited, HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        Assert.Equal("2", limited.Headers.GetValues("RateLimit-Limit").Single());
    }
}

public sealed class KeyRateLimiterTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(61)]
    [InlineData(100)]
    [InlineData(6000)]
    public async Task ABucket_HoldsAMinute_RefillsAtExactlyTheLimit_AndTellsWhen(int perMinute)
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var limiter = new KeyRateLimiter(clock);
        for (var i = 0; i < perMinute; i++)
        {
            Assert.True((await limiter.AcquireAsync("k", perMinute)).Allowed);
        }
        var refused = await limiter.AcquireAsync("k", perMinute);
        Assert.False(refused.Allowed);
        Assert.Equal(0, refused.Remaining);
        Assert.Equal(Math.Max(1, (int)Math.Ceiling(60.0 / perMinute)), refused.RetryAfterSeconds);
        Assert.Equal(60, refused.ResetSeconds);

        // One request's worth of time gives one request back, not two (61 a minute is not rounded to 60 or 120).
        clock.Advance(TimeSpan.FromMinutes(1) / perMinute);
        Assert.True((await limiter.AcquireAsync("k", perMinute)).Allowed);
        Assert.False((await limiter.AcquireAsync("k", perMinute)).Allowed);
        // Another key has its own bucket; a minute later the bucket is full again.
        Assert.Equal(perMinute - 1, (await limiter.AcquireAsync("other", perMinute)).Remaining);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(perMinute - 1, (await limiter.AcquireAsync("k", perMinute)).Remaining);
    }

    [Fact]
    public async Task IdleBuckets_AreDropped_ActiveOnesKept()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var limiter = new KeyRateLimiter(clock);
        await limiter.AcquireAsync("idle", 60);
        await limiter.AcquireAsync("busy", 60);
        Assert.Equal(2, limiter.Count);
        clock.Advance(TimeSpan.FromSeconds(50));
        await limiter.AcquireAsync("busy", 60);
        clock.Advance(TimeSpan.FromSeconds(20));
        await limiter.AcquireAsync("busy", 60);
        Assert.Equal(1, limiter.Count);
    }
}
