using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

// The billing benchmark (issue 14's numbers), on PostgreSQL:
//   1. the month close of last month for R resources and N usage records (time, memory sampled every 50 ms);
//   2. reading the current month's pending invoice of one organization with 100 resources (p50, p95).
// Usage: dotnet run -c Release --project bench/Cmp.BillingBench -- --pg "Host=127.0.0.1;Port=5432;Username=cmp" [--resources 10000] [--records 10000000] [--customers 1000] [--reads 200] [--keep]
//        [--database NAME]: reuse a database an earlier --keep run seeded (its invoices and closures are removed first).
var options = Options.Parse(args);
var database = options.Database ?? "cmp_bench_billing_" + Guid.NewGuid().ToString("N")[..8];
var server = new NpgsqlConnectionStringBuilder(options.Pg) { Database = "postgres" }.ConnectionString;
var connectionString = new NpgsqlConnectionStringBuilder(options.Pg) { Database = database, CommandTimeout = 3600 }.ConnectionString;
if (options.Database is null)
{
    await Exec(server, $"CREATE DATABASE \"{database}\"");
}
Console.WriteLine($"database {database}; {options.Resources:N0} resources, {options.Records:N0} usage records last month, {options.Customers:N0} organizations");

var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["ConnectionStrings:Cmp"] = connectionString,
    ["Database:Provider"] = "postgres",
    ["Billing:JobIntervalMinutes"] = "0",
}).Build();
var services = new ServiceCollection()
    .AddSingleton<IConfiguration>(configuration)
    .AddLogging(l => l.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning).AddFilter("Cmp", LogLevel.Information).AddFilter("Microsoft.EntityFrameworkCore.Database.Command", Environment.GetEnvironmentVariable("BENCH_SQL") is null ? LogLevel.Warning : LogLevel.Information))
    .AddPersistence(configuration)
    .AddSingleton(TimeProvider.System)
    .AddScoped<EmailSender>()
    .AddSingleton<MonthClose>()
    .BuildServiceProvider();
try
{
    await services.MigrateDatabaseAsync();
    var now = DateTime.UtcNow;
    var current = BillingMonth.Of(now);
    var last = current.Previous;
    if (options.Database is null)
    {
        var seed = Stopwatch.StartNew();
        await Seed(connectionString, options, last, current, now);
        Console.WriteLine($"seeded in {seed.Elapsed.TotalSeconds:F1} s (not part of the figures)");
    }
    else
    {
        // A database seeded by an earlier run (--keep): forget what that run's close did, keep the data.
        await Exec(connectionString, "DELETE FROM invoice_items; DELETE FROM invoices; DELETE FROM billing_closures; DELETE FROM job_leases; DELETE FROM emails");
        await Exec(connectionString, "VACUUM ANALYZE invoices");
        Console.WriteLine($"reusing {database}: invoices, closures and mails removed");
    }

    // 1. Month close.
    using var process = Process.GetCurrentProcess();
    GC.Collect();
    process.Refresh();
    var baseline = process.WorkingSet64;
    long peak = baseline, peakManaged = GC.GetTotalMemory(false);
    using var sampling = new CancellationTokenSource();
    var sampler = Task.Run(async () =>
    {
        while (!sampling.IsCancellationRequested)
        {
            process.Refresh();
            peak = Math.Max(peak, process.WorkingSet64);
            peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
            try
            {
                await Task.Delay(50, sampling.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    });
    var close = services.GetRequiredService<MonthClose>();
    var clock = Stopwatch.StartNew();
    var result = await close.RunOnceAsync(CancellationToken.None);
    var closeSeconds = clock.Elapsed.TotalSeconds;
    sampling.Cancel();
    await sampler;
    clock.Restart();
    var again = await close.RunOnceAsync(CancellationToken.None);
    var againSeconds = clock.Elapsed.TotalSeconds;

    await using (var scope = services.CreateAsyncScope())
    {
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        var frozen = await db.Invoices.CountAsync(i => i.Year == last.Year && i.Month == last.Month && i.State == InvoiceState.Created);
        var items = await db.InvoiceItems.CountAsync();
        var totals = await db.Invoices.Where(i => i.Year == last.Year && i.Month == last.Month).GroupBy(i => i.Currency).Select(g => new { g.Key, Sum = g.Sum(i => i.Total) }).ToListAsync();
        Console.WriteLine();
        Console.WriteLine($"month close: {closeSeconds:F1} s; closed {string.Join(", ", result.ClosedMonths)}; froze {result.FrozenInvoices:N0} invoices ({frozen:N0} for {last}), {items:N0} lines; mailed {result.Emails:N0} owners");
        Console.WriteLine($"  {last} totals: {string.Join(", ", totals.Select(t => $"{t.Sum:N2} {t.Key}"))}");
        Console.WriteLine($"  memory: working set {baseline / 1048576.0:F0} MB before, peak {peak / 1048576.0:F0} MB during; managed heap peak {peakManaged / 1048576.0:F0} MB");
        Console.WriteLine($"  second run: {againSeconds:F1} s, froze {again.FrozenInvoices} invoices (idempotent)");
    }

    // 2. Pending invoice of the organization with 100 resources, read as its owner reads it.
    var owner = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, Seeds.Id("u", 0).ToString())], "bench"));
    Guid invoiceId;
    await using (var scope = services.CreateAsyncScope())
    {
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        await InvoiceBook.RefreshCustomerAsync(db, Seeds.Id("c", 0), DateTime.UtcNow, CancellationToken.None);
        invoiceId = await db.Invoices.Where(i => i.CustomerId == Seeds.Id("c", 0) && i.Year == current.Year && i.Month == current.Month && i.Currency == "EUR").Select(i => i.Id).SingleAsync();
    }
    var samples = new List<double>();
    InvoiceView? view = null;
    for (var i = 0; i < options.Reads + 20; i++)
    {
        var started = Stopwatch.GetTimestamp();
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        var outcome = await InvoiceOperations.GetAsync(db, new Access(db, owner), invoiceId.ToString("N"), DateTime.UtcNow, CancellationToken.None);
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        view = outcome.Value ?? throw new InvalidOperationException("The owner could not read the invoice.");
        if (i >= 20)
        {
            samples.Add(ms); // the first 20 warm the JIT and the pool
        }
    }
    samples.Sort();
    double P(double q) => samples[(int)Math.Min(samples.Count - 1, Math.Floor(q * samples.Count))];
    var records = await Scalar(connectionString, $"SELECT count(*) FROM usage_records WHERE resource_id IN (SELECT id FROM resources WHERE customer_id = '{Seeds.Id("c", 0)}') AND created_at >= '{current.Start:O}'");
    Console.WriteLine();
    Console.WriteLine($"pending invoice read ({view!.Lines.Count} lines, {view.Lines.Select(l => l.ResourceId).Distinct().Count()} resources, {records:N0} usage records this month, total {view.Total:N2} {view.Invoice.Currency}):");
    Console.WriteLine($"  {samples.Count} reads: p50 {P(0.50):F1} ms, p95 {P(0.95):F1} ms, max {samples[^1]:F1} ms");
}
finally
{
    await services.DisposeAsync();
    NpgsqlConnection.ClearAllPools();
    if (!options.Keep && options.Database is null)
    {
        await Exec(server, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
    }
}

static async Task Exec(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 3600 };
    await command.ExecuteNonQueryAsync();
}

static async Task<long> Scalar(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 3600 };
    return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
}

static async Task Seed(string connectionString, Options o, BillingMonth last, BillingMonth current, DateTime now)
{
    foreach (var (label, sql) in Seeds.Sql(o, last, current, now))
    {
        var step = Stopwatch.StartNew();
        await Exec(connectionString, sql);
        Console.WriteLine($"  seed {label}: {step.Elapsed.TotalSeconds:F1} s");
    }
}

internal sealed record Options(string Pg, int Resources, long Records, int Customers, int Reads, int CurrentPerResource, bool Keep, string? Database)
{
    public static Options Parse(string[] args)
    {
        string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        return new Options(
            Arg("--pg") ?? Environment.GetEnvironmentVariable("CMP_BENCH_PG") ?? "Host=127.0.0.1;Port=5432;Username=cmp",
            int.Parse(Arg("--resources") ?? "10000", CultureInfo.InvariantCulture),
            long.Parse(Arg("--records") ?? "10000000", CultureInfo.InvariantCulture),
            int.Parse(Arg("--customers") ?? "1000", CultureInfo.InvariantCulture),
            int.Parse(Arg("--reads") ?? "200", CultureInfo.InvariantCulture),
            int.Parse(Arg("--current-per-resource") ?? "1000", CultureInfo.InvariantCulture),
            args.Contains("--keep"),
            Arg("--database"));
    }
}
