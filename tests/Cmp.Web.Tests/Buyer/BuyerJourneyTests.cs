using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Gateway;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Buyer;

public sealed class BuyerJourneyTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [Fact]
    public async Task OwnerOrder_IsDone_WithAResourceAndConfig_PinnedToTheVersion_AndTheAgentAnswers()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var config = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/"), HttpStatusCode.OK);
        Assert.Equal(world.Resource, config["resource_uuid"]!.GetValue<string>());

        // Brand it: the persona joins the system text the model receives; the seller's prompt stays hidden from the buyer.
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new
        {
            agent_name = "Acme Bot <img src=x onerror=alert(1)>",
            greeting = "Hi! How can I help?",
            system_prompt = "Only talk about Acme products.",
            tone = "friendly",
            primary_color = "#112233",
            allowed_domains = new[] { "acme.com", "*.acme.com", "localhost" },
        }), HttpStatusCode.OK);
        var key = await world.KeyAsync();
        Assert.Matches("^ar_sk_live_[0-9A-Za-z]{24}$", key);
        var answer = await BuyerWorld.AskAsync(_api.Anonymous(), key, "Hello there");
        var output = answer["output"]!.GetValue<string>();
        Assert.StartsWith("[dev] ", output);
        Assert.Contains("Only talk about Acme products.", output);
        Assert.Contains("friendly tone", output);
        Assert.True(answer["usage"]!["input_tokens"]!.GetValue<long>() > 0);
        Assert.Matches("^[0-9a-f]{32}$", answer["request_id"]!.GetValue<string>());

        // Memory per session; another session starts fresh.
        var session = answer["session_id"]!.GetValue<string>();
        var second = await BuyerWorld.AskAsync(_api.Anonymous(), key, "What did I say?", session);
        Assert.Contains("Hello there", second["output"]!.GetValue<string>());
        var fresh = await BuyerWorld.AskAsync(_api.Anonymous(), key, "What did I say?", "another-session");
        Assert.DoesNotContain("Hello there", fresh["output"]!.GetValue<string>());

        // The key is stored only as a hash, listed by prefix and last 4.
        Assert.False(await factory.WithDbAsync(db => db.ApiKeys.AnyAsync(k => k.Hash == key || k.Prefix == key)));
        var keys = await Json.ReadArrayAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/"));
        Assert.Equal(key[^4..], keys[0]!["last4"]!.GetValue<string>());
        Assert.DoesNotContain(key, keys.ToJsonString());
        Assert.NotNull(keys[0]!["last_used_at"]);

        // A new flow version does not move the buyer: the resource stays pinned.
        await Json.ReadAsync(await world.Seller.Owner.Client.PostAsync($"/api/provider-agents/{world.Agent}/import_flow/", Seller.Samples.Body("1.7", "Basic Prompting")), HttpStatusCode.Created);
        await Api.WaitForRuntimeAsync(world.Seller.Owner.Client, world.Agent);
        var resource = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/marketplace-resources/{world.Resource}/"), HttpStatusCode.OK);
        Assert.Equal(1, resource["flow_version"]!.GetValue<int>());
        var still = await BuyerWorld.AskAsync(_api.Anonymous(), key, "Again?", session);
        Assert.Contains("Hello there", still["output"]!.GetValue<string>()); // still the memory chatbot

        var usage = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/"), HttpStatusCode.OK);
        Assert.Equal(4, usage["total"]!["invocations"]!.GetValue<long>());
        Assert.Equal(4, usage["keys"]![0]!["invocations"]!.GetValue<long>());
        Assert.Single(usage["days"]!.AsArray());
        await Json.ProblemAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?from=yesterday"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
    }

    [Fact]
    public async Task Keys_RevokedExpiredPublishableOrGarbage_Are401_TerminatedIs403()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        await BuyerWorld.AskAsync(_api.Anonymous(), key, "ok");
        await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "via header" }, xApiKey: true)), HttpStatusCode.OK);

        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke("ar_sk_live_" + new string('x', 24), new { input = "x" })), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/agent-gateway/invoke/", new { input = "x" }), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        var publishable = await world.KeyAsync("publishable", "widget");
        Assert.StartsWith("ar_pk_live_", publishable);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(publishable, new { input = "x" })), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);

        var expiring = await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/customer-agent-configs/{world.Config}/api_keys/",
            new { name = "short", kind = "secret", expires_at = DateTime.UtcNow.AddHours(1) }), HttpStatusCode.Created);
        await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(expiring["key"]!.GetValue<string>(), new { input = "before it expires" })), HttpStatusCode.OK);
        await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.Name == "short").ExecuteUpdateAsync(s => s.SetProperty(k => k.ExpiresAt, DateTime.UtcNow.AddSeconds(-1))));
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(expiring["key"]!.GetValue<string>(), new { input = "x" })), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
        await Json.ProblemAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/customer-agent-configs/{world.Config}/api_keys/",
            new { name = "past", kind = "secret", expires_at = DateTime.UtcNow.AddHours(-1) }), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        var keys = await Json.ReadArrayAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/"));
        var server = keys.First(k => k!["name"]!.GetValue<string>() == "server")!["uuid"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await world.Buyer.Client.DeleteAsync($"/api/customer-agent-configs/{world.Config}/api_keys/{server}/")).StatusCode);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "x" })), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);

        var other = await world.KeyAsync("secret", "other");
        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(other, new { input = "x" })), HttpStatusCode.Forbidden, GatewayProblems.ResourceNotActive);
        await Json.ProblemAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
    }

    [Fact]
    public async Task CachedKeyAndConfig_FollowEveryChange_OnTheNextCall()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var generation = factory.Services.GetRequiredService<WriteGeneration>();
        var before = generation.Current;
        var first = await BuyerWorld.AskAsync(_api.Anonymous(), key, "hi");
        Assert.DoesNotContain("Speak like a pirate.", first["output"]!.GetValue<string>());
        Assert.Equal(before, generation.Current); // a call's own writes (turn, usage, last use) void no cache

        // A branding change through the API (SaveChanges) is seen by the very next call, not after the cache expires.
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { system_prompt = "Speak like a pirate." }), HttpStatusCode.OK);
        Assert.True(generation.Current > before);
        Assert.Contains("Speak like a pirate.", (await BuyerWorld.AskAsync(_api.Anonymous(), key, "hi"))["output"]!.GetValue<string>());

        // So is a write that bypasses the change tracker (ExecuteUpdate), here a revocation straight in the database.
        await factory.WithDbAsync(db => db.ApiKeys.ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, DateTime.UtcNow)));
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "x" })), HttpStatusCode.Unauthorized, GatewayProblems.InvalidApiKey);
    }

    [Fact]
    public async Task PausedSeller_Is403_AndBadInputIs400_AndNothingIsMetered()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "" })), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { session_id = new string('s', 201), input = "x" })), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        var malformed = new HttpRequestMessage(HttpMethod.Post, "/api/agent-gateway/invoke/") { Content = Json.Raw("{\"input\": ") };
        malformed.Headers.Authorization = new("Bearer", key);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(malformed), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await Json.ReadAsync(await world.Seller.Owner.Client.PostAsync($"/api/provider-agents/{world.Agent}/pause/", null), HttpStatusCode.OK);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "hi" })), HttpStatusCode.Forbidden, GatewayProblems.OfferingPaused);
        var configId = Guid.ParseExact(world.Config, "N");
        Assert.Equal(0, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
    }

    [Fact]
    public async Task IdempotentRetry_ReturnsTheFirstAnswer_AndCountsOnce()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var key = await world.KeyAsync();
        var first = await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Book a table" }, "retry-123")), HttpStatusCode.OK);
        var retry = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Book a table" }, "retry-123"));
        var again = await Json.ReadAsync(retry, HttpStatusCode.OK);
        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        var configId = Guid.ParseExact(world.Config, "N");
        Assert.Equal(1, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
        Assert.Equal(2, await factory.WithDbAsync(db => db.ConversationMessages.CountAsync(m => m.Scope == "config:" + world.Config)));
        await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Book a table" }, "another-key")), HttpStatusCode.OK);
        Assert.Equal(2, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
    }

    [Fact]
    public async Task IdempotencyKey_PastTheWindow_RunsAgain_CountsAgain_AndThenReplaysTheNewAnswer()
    {
        var world = await BuyerWorld.CreateAsync(_api);
        var key = await world.KeyAsync();
        var configId = Guid.ParseExact(world.Config, "N");
        var first = await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Book a table" }, "daily-1")), HttpStatusCode.OK);
        // Within the window the stored answer comes back (above); a day and a bit later the key is free again.
        await factory.WithDbAsync(db => db.IdempotencyRecords.Where(r => r.IdempotencyKey == "daily-1")
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CreatedAt, DateTime.UtcNow.AddHours(-24.5))));
        var later = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Book a table" }, "daily-1"));
        var fresh = await Json.ReadAsync(later, HttpStatusCode.OK);
        Assert.False(later.Headers.Contains("Idempotent-Replayed"));
        Assert.NotEqual(first["request_id"]!.GetValue<string>(), fresh["request_id"]!.GetValue<string>());
        Assert.Equal(2, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
        // The old record keeps its usage but gave up the key; the new one replays now.
        var replay = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Book a table" }, "daily-1"));
        Assert.Equal(fresh.ToJsonString(), (await Json.ReadAsync(replay, HttpStatusCode.OK)).ToJsonString());
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(2, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
        Assert.Equal(1, await factory.WithDbAsync(db => db.IdempotencyRecords.CountAsync(r => r.IdempotencyKey == "daily-1")));
    }

    [Fact]
    public async Task Lists_OfKeysResourcesAndConfigs_Page_Order_AndSearch()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var client = world.Buyer.Client;
        foreach (var name in new[] { "charlie", "alpha", "bravo" })
        {
            await world.KeyAsync("secret", name);
        }
        var page = await client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/?page_size=2&o=name");
        var keys = await Json.ReadArrayAsync(page);
        Assert.Equal(["alpha", "bravo"], keys.Select(k => k!["name"]!.GetValue<string>()));
        Assert.Equal("3", page.Headers.GetValues("X-Result-Count").Single());
        Assert.Contains("rel=\"next\"", page.Headers.GetValues("Link").Single());
        var last = await Json.ReadArrayAsync(await client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/?page_size=2&page=2&o=-name"));
        Assert.Equal("alpha", Assert.Single(last)!["name"]!.GetValue<string>());
        await Json.ProblemAsync(await client.GetAsync($"/api/customer-agent-configs/{world.Config}/api_keys/?o=hash"), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        // A second resource of the same buyer, to order and search.
        var second = await Json.ReadAsync(await client.PostAsJsonAsync("/api/marketplace-orders/", new { offering = world.Offering, plan = world.Plan, project = world.Project, name = "Zulu desk" }), HttpStatusCode.Created);
        var byName = await Json.ReadArrayAsync(await client.GetAsync("/api/marketplace-resources/?o=-name"));
        Assert.Equal("Zulu desk", byName[0]!["name"]!.GetValue<string>());
        var found = await Json.ReadArrayAsync(await client.GetAsync("/api/marketplace-resources/?search=zulu"));
        Assert.Equal(second["resource_uuid"]!.GetValue<string>(), Assert.Single(found)!["uuid"]!.GetValue<string>());
        Assert.Empty(await Json.ReadArrayAsync(await client.GetAsync("/api/marketplace-resources/?search=nothing-like-this")));
        await Json.ProblemAsync(await client.GetAsync("/api/marketplace-resources/?o=price"), HttpStatusCode.BadRequest, ProblemTypes.Validation);

        await Json.ReadAsync(await client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { agent_name = "Aardvark helper" }), HttpStatusCode.OK);
        var configs = await Json.ReadArrayAsync(await client.GetAsync("/api/customer-agent-configs/?o=agent_name"));
        Assert.Equal(world.Config, configs[0]!["uuid"]!.GetValue<string>());
        Assert.Equal(world.Config, Assert.Single(await Json.ReadArrayAsync(await client.GetAsync("/api/customer-agent-configs/?search=aardvark")))!["uuid"]!.GetValue<string>());
        await Json.ProblemAsync(await client.GetAsync("/api/customer-agent-configs/?o=system_prompt"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
    }

    [Fact]
    public async Task ConcurrentCalls_AreEachStoredOnce_AndSameKeyRacesRunOnce()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var client = _api.Anonymous();
        // Sent together, so the writer commits several in one transaction; the same Idempotency-Key runs once: the others are told it is in progress, or get its answer.
        var racing = Enumerable.Range(0, 6).Select(_ => client.SendAsync(BuyerWorld.Invoke(key, new { input = "Same order", session_id = "race" }, "race-key")));
        var distinct = Enumerable.Range(0, 6).Select(i => client.SendAsync(BuyerWorld.Invoke(key, new { input = $"Order {i}", session_id = $"s{i}" })));
        var answers = await Task.WhenAll(racing.Concat(distinct));
        var raced = new List<JsonObject>();
        foreach (var answer in answers.Take(6))
        {
            if (answer.StatusCode == HttpStatusCode.Conflict)
            {
                await Json.ProblemAsync(answer, HttpStatusCode.Conflict, GatewayProblems.IdempotencyInProgress);
                continue;
            }
            raced.Add(await Json.ReadAsync(answer, HttpStatusCode.OK));
        }
        Assert.NotEmpty(raced);
        Assert.Single(raced.Select(b => b["request_id"]!.GetValue<string>()).Distinct());
        var bodies = new List<JsonObject>();
        foreach (var answer in answers.Skip(6))
        {
            bodies.Add(await Json.ReadAsync(answer, HttpStatusCode.OK));
        }
        Assert.Equal(6, bodies.Select(b => b["request_id"]!.GetValue<string>()).Distinct().Count());

        var configId = Guid.ParseExact(world.Config, "N");
        Assert.Equal(7, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
        Assert.Equal(2, await factory.WithDbAsync(db => db.ConversationMessages.CountAsync(m => m.Scope == "config:" + world.Config && m.SessionId == "race")));
        Assert.Equal(14, await factory.WithDbAsync(db => db.ConversationMessages.CountAsync(m => m.Scope == "config:" + world.Config)));
    }

    [Fact]
    public async Task ABatchWithABadTurn_StoresEveryOtherTurnOnce_AndNothingOfTheBadOne()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "first", session_id = "batch" })), HttpStatusCode.OK);
        var configId = Guid.ParseExact(world.Config, "N");
        var resourceId = Guid.ParseExact(world.Resource, "N");
        var taken = await factory.WithDbAsync(db => db.UsageRecords.Where(u => u.ConfigId == configId).Select(u => u.Id).SingleAsync());
        MeteredTurn Turn(string text, Guid? id) => new(
            new UsageRecord { Id = id ?? Guid.CreateVersion7(), ConfigId = configId, ResourceId = resourceId, SessionId = "batch", RequestId = Guid.NewGuid().ToString("N"), Status = UsageStatus.Completed },
            [new ConversationMessage { Scope = "config:" + world.Config, SessionId = "batch", Sender = "User", Text = text }]);

        // One transaction for the three fails on the duplicate id; each is then written alone: two stored, one refused.
        var stored = await factory.Services.GetRequiredService<TurnWriter>().WriteTogetherAsync([Turn("a", null), Turn("b", taken), Turn("c", null)]);
        Assert.Equal([true, false, true], stored);
        Assert.Equal(3, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
        var texts = await factory.WithDbAsync(db => db.ConversationMessages.Where(m => m.Scope == "config:" + world.Config && m.Sender == "User").Select(m => m.Text).ToListAsync());
        Assert.Equal(["a", "c", "first"], texts.Order().ToArray());
    }

    [Fact]
    public async Task ATurnWrittenByTheStore_ReadsBackThroughEf_FieldForField()
    {
        // The turn writer inserts with its own statements (TurnStore); EF must read exactly what SaveChanges would have written.
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        await BuyerWorld.AskAsync(_api.Anonymous(), key, "hello");
        var configId = Guid.ParseExact(world.Config, "N");
        var resourceId = Guid.ParseExact(world.Resource, "N");
        var keyId = await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.ConfigId == configId).Select(k => k.Id).FirstAsync());
        var at = new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc).AddTicks(1234560); // whole microseconds: PostgreSQL keeps no more, whoever writes
        var usage = new UsageRecord
        {
            ConfigId = configId,
            ResourceId = resourceId,
            ApiKeyId = keyId,
            SessionId = "round-trip",
            RequestId = "req-1",
            InputTokens = 12,
            OutputTokens = 34_000_000_000,
            LatencyMs = 56,
            Status = UsageStatus.ClientClosed,
            PlanId = Guid.CreateVersion7(),
            Widget = true,
            CreatedAt = at,
        };
        // The turn completes a reserved Idempotency-Key in the same transaction.
        var reserved = Assert.IsType<IdempotencyOutcome.Reserved>(await factory.WithDbAsync(db =>
            factory.Services.GetRequiredService<IdempotencyStore>().ReserveAsync(db, "key:round-trip", "idem-é", "f", CancellationToken.None)));
        var answerJson = "{\"output\":\"Grüße 👋\"}";
        var message = new ConversationMessage { Scope = "config:" + world.Config, SessionId = "round-trip", Sender = "Machine", SenderName = "AI", Text = "Grüße 👋\nline two", CreatedAt = at };
        var bare = new UsageRecord { ConfigId = configId, ResourceId = resourceId, SessionId = "round-trip", RequestId = "req-2", Status = UsageStatus.Failed, CreatedAt = at.AddSeconds(1) };
        var stored = await factory.Services.GetRequiredService<TurnWriter>().WriteTogetherAsync([new(usage, [message], new IdempotencyCompletion(reserved.RecordId, answerJson)), new(bare, [])]);
        Assert.Equal([true, true], stored);

        var read = await factory.WithDbAsync(db => db.UsageRecords.AsNoTracking().SingleAsync(u => u.Id == usage.Id));
        Assert.Equal((usage.ConfigId, usage.ResourceId, usage.ApiKeyId, usage.SessionId, usage.RequestId), (read.ConfigId, read.ResourceId, read.ApiKeyId, read.SessionId, read.RequestId));
        Assert.Equal((12L, 34_000_000_000L, 56L, UsageStatus.ClientClosed, usage.PlanId, true), (read.InputTokens, read.OutputTokens, read.LatencyMs, read.Status, read.PlanId, read.Widget));
        var completed = await factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().SingleAsync(r => r.Id == reserved.RecordId));
        Assert.Equal((IdempotencyState.Completed, answerJson, "idem-é"), (completed.State, completed.Response, completed.IdempotencyKey));
        Assert.Equal(at, read.CreatedAt);
        Assert.Equal(DateTimeKind.Utc, read.CreatedAt.Kind);
        var readBare = await factory.WithDbAsync(db => db.UsageRecords.AsNoTracking().SingleAsync(u => u.Id == bare.Id));
        Assert.Null(readBare.ApiKeyId);
        Assert.Null(readBare.PlanId);
        Assert.Equal(UsageStatus.Failed, readBare.Status);

        // Queries that compare in the database (dates, ids) find the rows, as the usage report and memory do.
        Assert.Equal(2, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId && u.CreatedAt >= at && u.CreatedAt < at.AddMinutes(1))));
        var readMessage = await factory.WithDbAsync(db => db.ConversationMessages.AsNoTracking().SingleAsync(m => m.Scope == "config:" + world.Config && m.SessionId == "round-trip" && m.CreatedAt == at));
        Assert.Equal((message.Id, "Machine", "AI", message.Text), (readMessage.Id, readMessage.Sender, readMessage.SenderName, readMessage.Text));
    }

    [Fact]
    public async Task LimitPlan_CapIs429_UntilAPlanSwitch()
    {
        var plan = new
        {
            name = "Starter",
            currency = "EUR",
            components = new object[]
            {
                new { billing_type = "FIXED", name = "Monthly", price = 5 },
                new { billing_type = "LIMIT", name = "Included", measured_unit = "invocation", price = 0, limit_amount = 2 },
            },
        };
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", plan);
        var key = await world.KeyAsync();
        await BuyerWorld.AskAsync(_api.Anonymous(), key, "one");
        await BuyerWorld.AskAsync(_api.Anonymous(), key, "two");
        var capped = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "three" }));
        var problem = await Json.ProblemAsync(capped, HttpStatusCode.TooManyRequests, GatewayProblems.LimitReached);
        Assert.Contains("2 invocations", problem["detail"]!.GetValue<string>());
        Assert.NotNull(capped.Headers.RetryAfter);

        var unlimited = await Json.ReadAsync(await world.Seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{world.Agent}/plans/",
            new { name = "Unlimited", currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "Monthly", price = 50 } } }), HttpStatusCode.Created);
        await Json.ProblemAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = Guid.NewGuid().ToString("N") }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = unlimited["uuid"]!.GetValue<string>() }), HttpStatusCode.OK);
        await BuyerWorld.AskAsync(_api.Anonymous(), key, "three");
    }

    [Fact]
    public async Task AcceptEventStream_AsksForStreaming_TooWithoutTheBodyFlag()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var request = BuyerWorld.Invoke(key, new { input = "Stream by header" });
        request.Headers.Accept.ParseAdd("text/event-stream");
        var response = await _api.Anonymous().SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("event: end\n", await response.Content.ReadAsStringAsync());
        // Without either, the answer is JSON.
        var plain = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Plain" }));
        Assert.Equal("application/json", plain.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Resources_TerminateAndSwitch_NeedAManagingRole_AndOtherBuyersSeeNothing()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var member = await _api.NewUserAsync();
        await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/projects/{world.Project}/add_user/", new { user = member.Uuid, role = "member" }), HttpStatusCode.Created);
        var other = await Json.ReadAsync(await world.Seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{world.Agent}/plans/",
            new { name = "Other", currency = "EUR", components = new[] { new { billing_type = "FIXED", name = "Monthly", price = 9 } } }), HttpStatusCode.Created);
        var switchTo = new { plan = other["uuid"]!.GetValue<string>() };

        // A project member sees the resource but may not end it or change its plan.
        await Json.ReadAsync(await member.Client.GetAsync($"/api/marketplace-resources/{world.Resource}/"), HttpStatusCode.OK);
        await Json.ProblemAsync(await member.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await member.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", switchTo), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        // Another buyer does not even see it.
        var (stranger, _, _) = await BuyerWorld.NewBuyerAsync(_api);
        await Json.ProblemAsync(await stranger.Client.GetAsync($"/api/marketplace-resources/{world.Resource}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await stranger.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await stranger.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", switchTo), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        Assert.Empty(await Json.ReadArrayAsync(await stranger.Client.GetAsync("/api/marketplace-resources/")));

        // The owner may; a terminated resource takes no plan change.
        var switched = await Json.ReadAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", switchTo), HttpStatusCode.OK);
        Assert.Equal(switchTo.plan, switched["plan_uuid"]!.GetValue<string>());
        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);
        await Json.ProblemAsync(await world.Buyer.Client.PostAsJsonAsync($"/api/marketplace-resources/{world.Resource}/switch_plan/", new { plan = world.Plan }),
            HttpStatusCode.Conflict, ProblemTypes.InvalidTransition);
    }

    [Fact]
    public async Task UsageReport_FiltersByDate_AndRefusesAnInvertedRange()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        await BuyerWorld.AskAsync(_api.Anonymous(), key, "counted today");
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var tomorrow = DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var yesterday = DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var todays = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?from={today}&to={today}"), HttpStatusCode.OK);
        Assert.Equal(1, todays["total"]!["invocations"]!.GetValue<long>());
        Assert.Equal(today, todays["days"]![0]!["date"]!.GetValue<string>());
        var before = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?from={yesterday}&to={yesterday}"), HttpStatusCode.OK);
        Assert.Equal(0, before["total"]!["invocations"]!.GetValue<long>());
        Assert.Empty(before["days"]!.AsArray());
        var inverted = await Json.ProblemAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?from={tomorrow}&to={today}"),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(inverted["errors"]!["from"]);
    }

    [Fact]
    public async Task Streaming_SendsTokenEventsThenEnd_AndMetersOnce()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var response = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Stream me please", stream = true }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        var tokens = events.Where(e => e.StartsWith("event: token\n", StringComparison.Ordinal))
            .Select(e => JsonNode.Parse(e.Split("data: ")[1])!["text"]!.GetValue<string>()).ToList();
        Assert.True(tokens.Count > 2);
        var end = events.Single(e => e.StartsWith("event: end\n", StringComparison.Ordinal));
        var answer = JsonNode.Parse(end.Split("data: ")[1])!;
        Assert.Equal(answer["output"]!.GetValue<string>(), string.Concat(tokens));
        Assert.StartsWith("[dev] Stream me please", answer["output"]!.GetValue<string>());
        var configId = Guid.ParseExact(world.Config, "N");
        Assert.Equal(1, await factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == configId)));
    }

    [Fact]
    public async Task Streaming_ARunFailure_IsAnErrorEvent()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Document Q&A"); // its file was never uploaded
        var key = await world.KeyAsync();
        var response = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "What is in the file?", stream = true }));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("event: error\ndata: ", text);
        Assert.Contains(GatewayProblems.AgentFailed, text);
        Assert.DoesNotContain("event: end", text);
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "sync" })), HttpStatusCode.BadGateway, GatewayProblems.AgentFailed);
    }

    [Fact]
    public async Task TwoBuyers_AreIsolated_ConfigsKeysSessionsUsage()
    {
        var (seller, agent, offering, plan) = await BuyerWorld.PublishAsync(_api);
        async Task<(Api.User Buyer, string Config, string Key)> BuyAsync()
        {
            var (buyer, _, project) = await BuyerWorld.NewBuyerAsync(_api);
            var order = await Json.ReadAsync(await buyer.Client.PostAsJsonAsync("/api/marketplace-orders/", new { offering, plan, project }), HttpStatusCode.Created);
            var resource = await Json.ReadAsync(await buyer.Client.GetAsync($"/api/marketplace-resources/{order["resource_uuid"]}/"), HttpStatusCode.OK);
            var config = resource["config_uuid"]!.GetValue<string>();
            var key = await Json.ReadAsync(await buyer.Client.PostAsJsonAsync($"/api/customer-agent-configs/{config}/api_keys/", new { name = "k", kind = "secret" }), HttpStatusCode.Created);
            return (buyer, config, key["key"]!.GetValue<string>());
        }
        var a = await BuyAsync();
        var b = await BuyAsync();
        await BuyerWorld.AskAsync(_api.Anonymous(), a.Key, "Secret plans of A", "shared-session");
        var bAnswer = await BuyerWorld.AskAsync(_api.Anonymous(), b.Key, "What was said?", "shared-session");
        Assert.DoesNotContain("Secret plans of A", bAnswer["output"]!.GetValue<string>());

        foreach (var path in new[] { "", "api_keys/", "usage/" })
        {
            await Json.ProblemAsync(await b.Buyer.Client.GetAsync($"/api/customer-agent-configs/{a.Config}/{path}"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        }
        await Json.ProblemAsync(await b.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{a.Config}/", new { agent_name = "Mine" }), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        Assert.Single(await Json.ReadArrayAsync(await b.Buyer.Client.GetAsync("/api/customer-agent-configs/")));
        Assert.Single(await Json.ReadArrayAsync(await b.Buyer.Client.GetAsync("/api/marketplace-resources/")));

        // The seller sees both orders of its agent, and real counts.
        var sellerOrders = await Json.ReadArrayAsync(await seller.Owner.Client.GetAsync($"/api/marketplace-orders/?provider_uuid={seller.Provider}"));
        Assert.Equal(2, sellerOrders.Count);
        var analytics = await Json.ReadAsync(await seller.Owner.Client.GetAsync($"/api/provider-agents/{agent}/analytics/"), HttpStatusCode.OK);
        Assert.Equal(2, analytics["orders"]!.GetValue<int>());
        Assert.Equal(2, analytics["orders_by_state"]!["DONE"]!.GetValue<int>());
        Assert.Equal(2, analytics["active_buyers"]!.GetValue<int>());
        Assert.Equal(2, analytics["invocations"]!.GetValue<long>());
        Assert.True(analytics["input_tokens"]!.GetValue<long>() > 0);
        await Json.ProblemAsync(await a.Buyer.Client.GetAsync($"/api/provider-agents/{agent}/analytics/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }
}
