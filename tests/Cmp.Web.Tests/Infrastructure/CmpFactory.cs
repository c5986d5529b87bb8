using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cmp.Web.Tests.Infrastructure;

/// <summary>
/// The real application over a fresh database: a new SQLite file, or (when <c>CMP_TEST_DATABASE=postgres</c>)
/// a new database on the PostgreSQL server that <c>test.sh</c> started. One instance per test class.
/// </summary>
public class CmpFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string StaffEmail = "staff@cmp.test";
    public const string StaffPassword = "Operator-Key-7c1e9f2a";

    private readonly string _databaseName = "cmp_test_" + Guid.NewGuid().ToString("N");
    private string? _sqlitePath;

    public static bool UsePostgres =>
        string.Equals(Environment.GetEnvironmentVariable("CMP_TEST_DATABASE"), "postgres", StringComparison.OrdinalIgnoreCase);

    private static string PostgresServer =>
        Environment.GetEnvironmentVariable("CMP_TEST_PG")
        ?? throw new InvalidOperationException("CMP_TEST_DATABASE=postgres needs CMP_TEST_PG (run the tests through ./test.sh).");

    public string ConnectionString { get; private set; } = "";

    /// <summary>Every log line the application wrote, at every level, for assertions such as "no secret is logged".</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Logs { get; } = new();

    /// <summary>Settings for this factory's host, by configuration key; subclasses add their own.</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>Set for a second server process over another factory's database (<see cref="ConnectionString"/>); this one then neither creates nor drops it.</summary>
    public string? SharedConnectionString { get; init; }

    public virtual async Task InitializeAsync()
    {
        if (SharedConnectionString is not null)
        {
            ConnectionString = SharedConnectionString;
            return;
        }
        if (UsePostgres)
        {
            await using var connection = new NpgsqlConnection(PostgresServer);
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_databaseName}\"", connection);
            await create.ExecuteNonQueryAsync();
            ConnectionString = new NpgsqlConnectionStringBuilder(PostgresServer) { Database = _databaseName, Pooling = true }.ConnectionString;
        }
        else
        {
            _sqlitePath = Path.Combine(Path.GetTempPath(), _databaseName + ".db");
            ConnectionString = $"Data Source={_sqlitePath}";
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Cmp", ConnectionString);
        builder.UseSetting("Database:Provider", UsePostgres ? "postgres" : "sqlite");
        builder.UseSetting("CMP_ADMIN_EMAIL", StaffEmail);
        builder.UseSetting("CMP_ADMIN_PASSWORD", StaffPassword);
        builder.UseSetting("Cmp:DemoData", "false");
        builder.UseSetting("RateLimits:AuthPerMinute", "100000");
        builder.UseSetting("Gateway:FailedAuthPerMinute", "100000"); // tests share one client address; MoneyRulesTests tries the real limit
        builder.UseSetting("Logging:LogLevel:Default", "Debug");
        builder.UseSetting("Logging:LogLevel:Microsoft.EntityFrameworkCore", "Information");
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureLogging(logging =>
        {
            logging.ClearProviders();
            logging.AddProvider(new CapturingLoggerProvider(Logs));
        });
    }

    /// <summary>Runs <paramref name="work"/> with a DbContext of the running application.</summary>
    public async Task<T> WithDbAsync<T>(Func<CmpDbContext, Task<T>> work)
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<CmpDbContext>());
    }

    public Task WithDbAsync(Func<CmpDbContext, Task> work) => WithDbAsync(async db => { await work(db); return 0; });

    public virtual async Task DisposeAsyncCore()
    {
        await base.DisposeAsync();
        if (SharedConnectionString is not null)
        {
            return;
        }
        if (UsePostgres)
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(PostgresServer);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_databaseName}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
        else if (_sqlitePath is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(_sqlitePath + suffix);
            }
        }
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsyncCore();
}

/// <summary>Keeps every formatted log line (and exception text) in memory.</summary>
internal sealed class CapturingLoggerProvider(System.Collections.Concurrent.ConcurrentQueue<string> sink) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, sink);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<string> sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
