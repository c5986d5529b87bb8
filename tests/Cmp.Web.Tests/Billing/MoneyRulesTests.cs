using System.Net;
using System.Net.Http.Json;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Gateway;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The gateway's money rules (PRODUCT.md, "Metering and isolation"), each tried as an attacker would, with real
/// parallel HTTP calls, and the honest path beside it. Runs on SQLite and on PostgreSQL (test.sh's two lanes).
/// </summary>
public sealed class MoneyRulesTests(MoneyRulesFactory factory) : IClassFixture<MoneyRulesFactory>
{
    private readonly Api _api = new(factory);

    private Task<int> UsageCountAsync(string config, UsageStatus? status = null)
    {
        var id = Guid.ParseExact(config, "N");
        return factory.WithDbAsync(db => db.UsageRecords.CountAsync(u => u.ConfigId == id && (status == null || u.Status == status)));
    }

    private async Task<BuyerWorld> WidgetWorldAsync(string sample = "Memory Chatbot", object? plan = null)
    {
        var world = await BuyerWorld.CreateAsync(_api, sample, plan);
        await Json.ReadAsync(await world.Buyer.Client.PatchAsJsonAsync($"/api/customer-agent-configs/{world.Config}/", new { allowed_domains = new[] { "acme.com" } }), HttpStatusCode.OK);
        return world;
    }

    // ---- Idempotency ------------------------------------------------------------------------

    [Fact]
    public async Task IdempotencyKey_TwelveStreamsAtOnce_RunOnce_OthersAre409_ThenReplayOr422()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var client = _api.Anonymous();
        factory.Runtime.Hold();
        using var hang = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // only against a hang
        try
        {
            // The first call holds the key while its model "thinks"; eleven more with the same key and other inputs come meanwhile.
            var first = await client.SendAsync(GatewayCalls.Stream(key, "Input 0", "twelve"), HttpCompletionOption.ResponseHeadersRead, hang.Token);
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            var others = await Task.WhenAll(Enumerable.Range(1, 11).Select(i => client.SendAsync(GatewayCalls.Stream(key, $"Input {i}", "twelve"), hang.Token)));
            foreach (var other in others)
            {
                await Json.ProblemAsync(other, HttpStatusCode.Conflict, GatewayProblems.IdempotencyInProgress);
            }
            factory.Runtime.Release();
            var streamed = await GatewayCalls.ReadUntilAsync(first, null, hang.Token);
            Assert.Contains("event: end", streamed);
        }
        finally
        {
            factory.Runtime.Release();
        }
        Assert.Equal(1, await UsageCountAsync(world.Config));

        // After it: the same request replays (JSON or stream), counted once; another input with the key is a 422.
        var replay = await client.SendAsync(BuyerWorld.Invoke(key, new { input = "Input 0" }, "twelve"));
        var answer = await Json.ReadAsync(replay, HttpStatusCode.OK);
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.StartsWith("[dev] Input 0", answer["output"]!.GetValue<string>());
        var streamedReplay = await client.SendAsync(GatewayCalls.Stream(key, "Input 0", "twelve"));
        Assert.Equal("true", streamedReplay.Headers.GetValues("Idempotent-Replayed").Single());
        var events = await streamedReplay.Content.ReadAsStringAsync();
        Assert.Contains("event: token\ndata: {\"text\":\"[dev] Input 0", events);
        Assert.Contains("event: end\ndata: " + answer.ToJsonString(), events);
        var reused = await Json.ProblemAsync(await client.SendAsync(BuyerWorld.Invoke(key, new { input = "Input 5" }, "twelve")), (HttpStatusCode)422, GatewayProblems.IdempotencyKeyReused);
        Assert.Contains("new key", reused["detail"]!.GetValue<string>());
        Assert.Equal(1, await UsageCountAsync(world.Config));
    }

    [Fact]
    public async Task IdempotencyKey_RetryAfterTheClientLostTheStream_ReplaysTheWholeAnswer_CountedOnce()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var client = _api.Anonymous();
        var input = "A long answer that the network cut in the middle, word after word after word";
        factory.Runtime.Hold();
        using (var cut = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            var response = await client.SendAsync(GatewayCalls.Stream(key, input, "retry-1"), HttpCompletionOption.ResponseHeadersRead, cut.Token);
            Assert.Contains("event: token", await GatewayCalls.ReadUntilAsync(response, "data:", cut.Token));
            await cut.CancelAsync(); // the network error: the client is gone before the end
            response.Dispose();
        }
        factory.Runtime.Release();
        await GatewayCalls.EventuallyAsync(async () => await UsageCountAsync(world.Config) == 1);
        Assert.Equal(1, await UsageCountAsync(world.Config, UsageStatus.ClientClosed));

        var retry = await client.SendAsync(BuyerWorld.Invoke(key, new { input }, "retry-1"));
        var answer = await Json.ReadAsync(retry, HttpStatusCode.OK);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.StartsWith("[dev] " + input, answer["output"]!.GetValue<string>());
        Assert.Equal(1, await UsageCountAsync(world.Config));
    }

    [Fact]
    public async Task IdempotencyKey_BelongsToItsCredential_AnotherKeyOrAWidgetRunsItsOwnCall()
    {
        var world = await WidgetWorldAsync("Basic Prompting");
        var backend = await world.KeyAsync("secret", "backend");
        var other = await world.KeyAsync("secret", "other backend");
        var client = _api.Anonymous();
        var first = await Json.ReadAsync(await client.SendAsync(BuyerWorld.Invoke(backend, new { input = "Pay invoice 7" }, "shared-key")), HttpStatusCode.OK);

        var otherKey = await client.SendAsync(BuyerWorld.Invoke(other, new { input = "Pay invoice 7" }, "shared-key"));
        var own = await Json.ReadAsync(otherKey, HttpStatusCode.OK);
        Assert.False(otherKey.Headers.Contains("Idempotent-Replayed"));
        Assert.NotEqual(first["request_id"]!.GetValue<string>(), own["request_id"]!.GetValue<string>());

        var (token, _) = await GatewayCalls.SessionAsync(client, world.Config, await world.KeyAsync("publishable", "site"), "https://acme.com");
        var widget = await client.SendAsync(GatewayCalls.Widget(token, "https://acme.com", new { input = "Pay invoice 7" }, "shared-key"));
        var widgetAnswer = await Json.ReadAsync(widget, HttpStatusCode.OK);
        Assert.False(widget.Headers.Contains("Idempotent-Replayed"));
        Assert.NotEqual(first["request_id"]!.GetValue<string>(), widgetAnswer["request_id"]!.GetValue<string>());
        Assert.Equal(3, await UsageCountAsync(world.Config));
    }

    [Fact]
    public async Task IdempotencyKey_HeldByACrashedRun_IsTakenOverOnceAbandoned_NotBefore_AndOldKeysAreSwept()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var keyId = await factory.WithDbAsync(db => db.ApiKeys.Where(k => k.ConfigId == Guid.ParseExact(world.Config, "N")).Select(k => k.Id).SingleAsync());
        // A reservation left by a process that stopped mid-run: young, it still blocks the key; past the run budget's margin it is taken over.
        var store = factory.Services.GetRequiredService<IdempotencyStore>();
        var stuck = Assert.IsType<IdempotencyOutcome.Reserved>(await factory.WithDbAsync(db =>
            store.ReserveAsync(db, "key:" + keyId.ToString("N"), "crashed", IdempotencyStore.Fingerprint("Hello", null), CancellationToken.None)));
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Hello" }, "crashed")), HttpStatusCode.Conflict, GatewayProblems.IdempotencyInProgress);
        await factory.WithDbAsync(db => db.IdempotencyRecords.Where(r => r.Id == stuck.RecordId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CreatedAt, DateTime.UtcNow - IdempotencyStore.Abandoned - TimeSpan.FromMinutes(1))));
        var taken = await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Hello" }, "crashed"));
        await Json.ReadAsync(taken, HttpStatusCode.OK);
        Assert.False(taken.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await UsageCountAsync(world.Config));

        // The sweeper removes keys past their day and keeps the others.
        await factory.WithDbAsync(db => db.IdempotencyRecords.Where(r => r.IdempotencyKey == "crashed")
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CreatedAt, DateTime.UtcNow.AddHours(-25))));
        await Json.ReadAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Fresh" }, "fresh")), HttpStatusCode.OK);
        Assert.True(await factory.Services.GetRequiredService<IdempotencySweeper>().SweepAsync(CancellationToken.None) >= 1);
        Assert.False(await factory.WithDbAsync(db => db.IdempotencyRecords.AnyAsync(r => r.IdempotencyKey == "crashed")));
        Assert.True(await factory.WithDbAsync(db => db.IdempotencyRecords.AnyAsync(r => r.IdempotencyKey == "fresh")));
    }

    // ---- Exactly once -------------------------------------------------------------------------

    [Fact]
    public async Task TenStreamsClosedBeforeTheEnd_AreEachMeteredOnce_AsClientClosed_WithTheirTokens()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var client = _api.Anonymous();
        var input = "Tell me everything about tents, boots, stoves and maps, at length";
        var whole = await BuyerWorld.AskAsync(client, key, input); // the same answer, read to the end, for its token count
        factory.Runtime.Hold();
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
            {
                using var cut = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                using var response = await client.SendAsync(GatewayCalls.Stream(key, input), HttpCompletionOption.ResponseHeadersRead, cut.Token);
                Assert.Contains("event: token", await GatewayCalls.ReadUntilAsync(response, "data:", cut.Token));
                await cut.CancelAsync(); // gone before "end"
            }));
        }
        finally
        {
            factory.Runtime.Release();
        }
        await GatewayCalls.EventuallyAsync(async () => await UsageCountAsync(world.Config) == 11);
        Assert.Equal(10, await UsageCountAsync(world.Config, UsageStatus.ClientClosed));
        var configId = Guid.ParseExact(world.Config, "N");
        var closed = await factory.WithDbAsync(db => db.UsageRecords.Where(u => u.ConfigId == configId && u.Status == UsageStatus.ClientClosed).ToListAsync());
        var usage = whole["usage"]!;
        Assert.All(closed, u => Assert.Equal((usage["input_tokens"]!.GetValue<long>(), usage["output_tokens"]!.GetValue<long>()), (u.InputTokens, u.OutputTokens)));
        // The honest path: a client that stays gets "completed".
        Assert.Equal(1, await UsageCountAsync(world.Config, UsageStatus.Completed));
    }

    [Fact]
    public async Task ARunFailingAfterTheModel_IsMeteredFailedWithItsTokens_OneFailingBeforeIt_IsNotMetered_AndGivesTheCapBack()
    {
        var plan = new
        {
            name = "One call",
            currency = "EUR",
            components = new object[] { new { billing_type = "LIMIT", name = "Included", measured_unit = "invocation", price = "0", limit_amount = 1 } },
        };
        // Document Q&A reads a file the export does not carry: it fails at its File node, before any model.
        var noFile = await BuyerWorld.CreateAsync(_api, "Document Q&A", plan);
        var noFileKey = await noFile.KeyAsync();
        for (var i = 0; i < 3; i++)
        {
            await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(noFileKey, new { input = "Summarize" })), HttpStatusCode.BadGateway, GatewayProblems.AgentFailed);
        }
        Assert.Equal(0, await UsageCountAsync(noFile.Config)); // each gave its cap unit back: the third call was not refused by the cap of 1

        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", plan);
        var key = await world.KeyAsync();
        factory.Runtime.FailAfterFirstToken = () => new FlowRunException("model", "LanguageModelComponent", "The provider hung up.").WithUsage(new TokenUsage(11, 2), reachedModel: true);
        try
        {
            var stream = await (await _api.Anonymous().SendAsync(GatewayCalls.Stream(key, "Hello", "failing"))).Content.ReadAsStringAsync();
            Assert.Contains("event: error", stream);
            Assert.Contains(GatewayProblems.AgentFailed, stream);
        }
        finally
        {
            factory.Runtime.FailAfterFirstToken = null;
        }
        var configId = Guid.ParseExact(world.Config, "N");
        var failed = await factory.WithDbAsync(db => db.UsageRecords.SingleAsync(u => u.ConfigId == configId));
        Assert.Equal((UsageStatus.Failed, 11L, 2L), (failed.Status, failed.InputTokens, failed.OutputTokens));
        // It reached the model, so it keeps its unit of the cap; its Idempotency-Key is free for a retry, which the cap now refuses.
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "Hello" }, "failing")), HttpStatusCode.TooManyRequests, GatewayProblems.LimitReached);
    }

    // ---- Caps ---------------------------------------------------------------------------------

    [Fact]
    public async Task ALimitOfFive_FortyParallelCalls_AcceptFive_Exactly()
    {
        var plan = new
        {
            name = "Five",
            currency = "EUR",
            components = new object[] { new { billing_type = "LIMIT", name = "Included", measured_unit = "invocation", price = "9.00", limit_amount = 5 } },
        };
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", plan);
        var keys = new[] { await world.KeyAsync("secret", "a"), await world.KeyAsync("secret", "b") };
        var client = _api.Anonymous();
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.SendAsync(BuyerWorld.Invoke(keys[i % 2], new { input = $"call {i}" }))));
        Assert.Equal(5, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.OK))
        {
            await Json.ProblemAsync(refused, HttpStatusCode.TooManyRequests, GatewayProblems.LimitReached);
            Assert.NotNull(refused.Headers.RetryAfter);
        }
        Assert.Equal(5, await UsageCountAsync(world.Config));
        var resourceId = Guid.ParseExact(world.Resource, "N");
        Assert.Equal(5, await factory.WithDbAsync(db => db.CapCounters.Where(c => c.ResourceId == resourceId).SumAsync(c => c.Used)));
    }

    [Fact]
    public async Task ACapOfFive_AcceptsFive_InSequence_TheSixthIs429()
    {
        var plan = new
        {
            name = "Five",
            currency = "EUR",
            components = new object[] { new { billing_type = "LIMIT", name = "Included", measured_unit = "invocation", price = "0", limit_amount = 5 } },
        };
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", plan);
        var key = await world.KeyAsync();
        for (var i = 0; i < 5; i++)
        {
            await BuyerWorld.AskAsync(_api.Anonymous(), key, $"call {i}");
        }
        await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "sixth" })), HttpStatusCode.TooManyRequests, GatewayProblems.LimitReached);
        Assert.Equal(5, await UsageCountAsync(world.Config));
    }

    [Fact]
    public async Task ATokenCap_AdmitsCallsWhileUnderIt_CountsTheirTokens_ThenRefuses()
    {
        var plan = new
        {
            name = "A thousand tokens",
            currency = "EUR",
            components = new object[] { new { billing_type = "LIMIT", name = "Included", measured_unit = "1k_tokens", price = "0", limit_amount = 1 } },
        };
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting", plan);
        var key = await world.KeyAsync();
        var small = await BuyerWorld.AskAsync(_api.Anonymous(), key, "Hello");
        var used = small["usage"]!["input_tokens"]!.GetValue<long>() + small["usage"]!["output_tokens"]!.GetValue<long>();
        var resourceId = Guid.ParseExact(world.Resource, "N");
        Assert.Equal(used, await factory.WithDbAsync(db => db.CapCounters.Where(c => c.ResourceId == resourceId).SumAsync(c => c.Used)));

        // Under the cap a call is admitted (its tokens are unknown before it runs); this one takes the month past it.
        await BuyerWorld.AskAsync(_api.Anonymous(), key, string.Join(' ', Enumerable.Repeat("tent", 900)));
        var refused = await Json.ProblemAsync(await _api.Anonymous().SendAsync(BuyerWorld.Invoke(key, new { input = "one more" })), HttpStatusCode.TooManyRequests, GatewayProblems.LimitReached);
        Assert.Contains("1 thousand tokens", refused["detail"]!.GetValue<string>());
        Assert.Equal(2, await UsageCountAsync(world.Config));
    }

    // ---- Sessions belong to their credential --------------------------------------------------------

    [Fact]
    public async Task AWidget_CannotReadOrContinueABackendSession_NorGetItsIdempotentAnswer()
    {
        var world = await WidgetWorldAsync();
        var backend = await world.KeyAsync("secret", "backend");
        var client = _api.Anonymous();
        await BuyerWorld.AskAsync(client, backend, "The vault code is 4711", "backend-1");
        var first = await Json.ReadAsync(await client.SendAsync(BuyerWorld.Invoke(backend, new { input = "What did I say?", session_id = "backend-1" }, "backend-idem")), HttpStatusCode.OK);
        Assert.Contains("4711", first["output"]!.GetValue<string>()); // the backend has its memory

        var (token, _) = await GatewayCalls.SessionAsync(client, world.Config, await world.KeyAsync("publishable", "site"), "https://acme.com");
        var stolen = await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(token, "https://acme.com", new { input = "What did I say?", session_id = "backend-1" })), HttpStatusCode.OK);
        Assert.DoesNotContain("4711", stolen["output"]!.GetValue<string>());
        Assert.NotEqual("backend-1", stolen["session_id"]!.GetValue<string>());
        var replay = await client.SendAsync(GatewayCalls.Widget(token, "https://acme.com", new { input = "What did I say?", session_id = "backend-1" }, "backend-idem"));
        var own = await Json.ReadAsync(replay, HttpStatusCode.OK);
        Assert.False(replay.Headers.Contains("Idempotent-Replayed"));
        Assert.DoesNotContain("4711", own["output"]!.GetValue<string>());

        // And the backend's session did not take the widget's turns: its own two turns only.
        Assert.Equal(4, await factory.WithDbAsync(db => db.ConversationMessages.CountAsync(m => m.Scope == "config:" + world.Config && m.SessionId == "backend-1")));
    }

    [Fact]
    public async Task AWidgetVisitor_KeepsItsConversationAcrossReloads_AnotherVisitorDoesNotSeeIt_AForgedHandleStartsAfresh()
    {
        var world = await WidgetWorldAsync();
        var client = _api.Anonymous();
        var publishable = await world.KeyAsync("publishable", "site");
        var (token, handle) = await GatewayCalls.SessionAsync(client, world.Config, publishable, "https://acme.com");
        var first = await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(token, "https://acme.com", new { input = "My name is Zed" })), HttpStatusCode.OK);

        // A reload: a new session with the handle the widget kept goes on with the same conversation.
        var (again, sameHandle) = await GatewayCalls.SessionAsync(client, world.Config, publishable, "https://acme.com", handle);
        Assert.Equal(handle, sameHandle);
        var recalled = await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(again, "https://acme.com", new { input = "What is my name?" })), HttpStatusCode.OK);
        Assert.Contains("My name is Zed", recalled["output"]!.GetValue<string>());
        Assert.Equal(first["session_id"]!.GetValue<string>(), recalled["session_id"]!.GetValue<string>());

        // Another visitor, or one naming the first visitor's session id, or a forged handle, starts afresh.
        var (stranger, strangerHandle) = await GatewayCalls.SessionAsync(client, world.Config, publishable, "https://acme.com");
        Assert.NotEqual(handle, strangerHandle);
        var fresh = await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(stranger, "https://acme.com", new { input = "What is my name?", session_id = first["session_id"]!.GetValue<string>() })), HttpStatusCode.OK);
        Assert.DoesNotContain("Zed", fresh["output"]!.GetValue<string>());
        var (forged, forgedHandle) = await GatewayCalls.SessionAsync(client, world.Config, publishable, "https://acme.com", handle[..^4] + "AAAA");
        Assert.NotEqual(handle, forgedHandle);
        Assert.DoesNotContain("Zed", (await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(forged, "https://acme.com", new { input = "What is my name?" })), HttpStatusCode.OK))["output"]!.GetValue<string>());

        // A handle issued for another buyer's widget does not open this one's conversation either.
        var elsewhere = await WidgetWorldAsync();
        var (_, otherHandle) = await GatewayCalls.SessionAsync(client, elsewhere.Config, await elsewhere.KeyAsync("publishable", "site"), "https://acme.com", handle);
        Assert.NotEqual(handle, otherHandle);
    }

    // ---- Rate limits one client cannot exhaust for others ------------------------------------------

    [Fact]
    public async Task OneWidgetVisitor_DrainsOnlyItsOwnBucket_OtherVisitorsGoOn()
    {
        var world = await WidgetWorldAsync("Basic Prompting");
        var client = _api.Anonymous();
        var publishable = await world.KeyAsync("publishable", "site");
        var (greedy, _) = await GatewayCalls.SessionAsync(client, world.Config, publishable, "https://acme.com");
        var (polite, _) = await GatewayCalls.SessionAsync(client, world.Config, publishable, "https://acme.com");
        for (var i = 0; i < 3; i++)
        {
            await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(greedy, "https://acme.com", new { input = $"again {i}" })), HttpStatusCode.OK);
        }
        var limited = await client.SendAsync(GatewayCalls.Widget(greedy, "https://acme.com", new { input = "and again" }));
        await Json.ProblemAsync(limited, HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Equal("3", limited.Headers.GetValues("RateLimit-Limit").Single());
        await Json.ReadAsync(await client.SendAsync(GatewayCalls.Widget(polite, "https://acme.com", new { input = "hello" })), HttpStatusCode.OK);
    }

    [Fact]
    public async Task InvalidKeys_AreThrottledPerAddress_429WithRetryAfter_WhileAWorkingKeyGoesOn()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var client = _api.Anonymous();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add((await client.SendAsync(BuyerWorld.Invoke("ar_sk_live_" + Guid.NewGuid().ToString("N")[..24], new { input = "guess" }))).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, statuses[0]);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(statuses.Count(s => s == HttpStatusCode.Unauthorized) <= 6, string.Join(",", statuses));
        var throttled = await client.SendAsync(BuyerWorld.Invoke("ar_sk_live_" + new string('z', 24), new { input = "guess" }));
        var problem = await Json.ProblemAsync(throttled, HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        Assert.Contains("refused credentials", problem["detail"]!.GetValue<string>());
        Assert.NotNull(throttled.Headers.RetryAfter);
        await BuyerWorld.AskAsync(client, key, "I hold a real key");
    }

    // ---- Usage report bounds -------------------------------------------------------------------

    [Fact]
    public async Task UsageReport_ToTheLastDateThereIs_Answers_APastDateIs400()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        await BuyerWorld.AskAsync(_api.Anonymous(), await world.KeyAsync(), "count me");
        var report = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?to=9999-12-31&from=0001-01-01"), HttpStatusCode.OK);
        Assert.Equal(1, report["total"]!["invocations"]!.GetValue<long>());
        var all = await Json.ReadAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?to=9999-12-31"), HttpStatusCode.OK);
        Assert.Equal(0, all["total"]!["invocations"]!.GetValue<long>()); // the 30 days before 9999-12-31
        await Json.ProblemAsync(await world.Buyer.Client.GetAsync($"/api/customer-agent-configs/{world.Config}/usage/?to=10000-01-01"), HttpStatusCode.BadRequest, ProblemTypes.Validation);
    }
}
