using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cmp.Web.Features.Billing;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// A clock the test sets to any instant, forwards or back (FakeTimeProvider only moves forwards, and the invoice tests
/// of one class live in different months). Timers are the system's; nothing in billing waits on one.
/// </summary>
public sealed class TestClock(DateTime start) : TimeProvider
{
    private long _ticks = start.Ticks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Set(DateTime utc) => Interlocked.Exchange(ref _ticks, DateTime.SpecifyKind(utc, DateTimeKind.Utc).Ticks);
}

/// <summary>
/// The real application on a clock the test sets, the month-close timer off (tests run the close by hand), and a
/// platform fee of 12.5 %.
/// </summary>
public sealed class BillingFactory : CmpFactory
{
    public TestClock Clock { get; } = new(new DateTime(2026, 4, 1, 8, 0, 0, DateTimeKind.Utc));

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Billing:JobIntervalMinutes"] = "0",
        ["PLATFORM_FEE_PERCENT"] = "12.5",
        ["Gateway:RateLimitPerMinute"] = "100000",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(Clock));
    }

    public static DateTime Utc(int y, int m, int d, int h = 0, int min = 0, int s = 0, int ms = 0) => new(y, m, d, h, min, s, ms, DateTimeKind.Utc);

    public void At(int y, int m, int d, int h = 0, int min = 0, int s = 0, int ms = 0) => Clock.Set(Utc(y, m, d, h, min, s, ms));

    /// <summary>One run of the month close, as the timer would run it.</summary>
    public Task<MonthCloseResult> CloseAsync() => Services.GetRequiredService<MonthClose>().RunOnceAsync(CancellationToken.None);
}

/// <summary>Shared steps of the billing tests: plans as sellers type them, orders, calls, invoices as buyers read them.</summary>
internal static class Billing
{
    public static object Plan(string name, string currency, params object[] components) => new { name, currency, components };

    public static object Fixed(string price, string name = "Monthly fee") => new { billing_type = "FIXED", name, price };

    public static object Setup(string price) => new { billing_type = "ONE_TIME", name = "Setup", price };

    public static object PerCall(string price) => new { billing_type = "USAGE", name = "Per call", measured_unit = "invocation", price };

    public static object PerKTokens(string price) => new { billing_type = "USAGE", name = "Per 1k tokens", measured_unit = "1k_tokens", price };

    public static object Limit(string price, long amount) => new { billing_type = "LIMIT", name = "Tier", measured_unit = "invocation", price, limit_amount = amount };

    public static async Task<string> AddPlanAsync(BuyerWorld world, object plan) =>
        (await Json.ReadAsync(await world.Seller.Owner.Client.PostAsJsonAsync($"/api/provider-agents/{world.Agent}/plans/", plan), HttpStatusCode.Created))["uuid"]!.GetValue<string>();

    public static async Task<JsonArray> InvoicesAsync(HttpClient client, string customer, string? query = null) =>
        await Json.ReadArrayAsync(await client.GetAsync($"/api/invoices/?customer_uuid={customer}{(query is null ? "" : "&" + query)}"));

    public static async Task<JsonObject> InvoiceAsync(HttpClient client, string customer, int year, int month, string currency = "EUR")
    {
        var list = await InvoicesAsync(client, customer, $"year={year}&month={month}&currency={currency}");
        return Assert.IsType<JsonObject>(Assert.Single(list));
    }

    /// <summary>The lines as (component, plan, quantity, total) for compact hand-computed assertions.</summary>
    public static List<(string Component, string Plan, string Quantity, string Total)> Lines(JsonObject invoice) =>
        invoice["items"]!.AsArray().Select(i => (i!["component_name"]!.GetValue<string>(), i["plan_name"]!.GetValue<string>(),
            i["quantity"]!.GetValue<string>(), i["total"]!.GetValue<string>())).ToList();

    public static async Task<JsonObject> CallAsync(HttpClient client, string key, string input = "Hello") => await BuyerWorld.AskAsync(client, key, input);

    public static async Task<long> TokensOfAsync(HttpClient client, string key)
    {
        var answer = await CallAsync(client, key);
        return answer["usage"]!["input_tokens"]!.GetValue<long>() + answer["usage"]!["output_tokens"]!.GetValue<long>();
    }
}
