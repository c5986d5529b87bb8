using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Cmp.Web.Infrastructure.Persistence;

public static class PersistenceExtensions
{
    public const string DefaultConnectionString = "Data Source=cmp.db";

    public static bool IsPostgres(IConfiguration configuration) =>
        (configuration["Database:Provider"] ?? "sqlite").ToLowerInvariant() is "postgres" or "postgresql" or "npgsql";

    public static IServiceCollection AddPersistence(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Cmp") ?? DefaultConnectionString;
        services.AddSingleton<WriteGeneration>();
        services.AddSingleton<WriteWatchInterceptor>();
        services.AddSingleton<SqliteWriteGate>();
        // Pooled: a request reuses a context instead of building one (the gateway's hot path felt it).
        if (IsPostgres(configuration))
        {
            // Statements the app sends again and again (the gateway's inserts above all) are prepared once per connection.
            var npgsql = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            if (npgsql.MaxAutoPrepare == 0)
            {
                npgsql.MaxAutoPrepare = 64;
            }
            connectionString = npgsql.ConnectionString;
            services.AddDbContextPool<CmpDbContext, PostgresCmpDbContext>((sp, o) => o.UseNpgsql(connectionString, n => n.MaxBatchSize(1000)).UseSnakeCaseNamingConvention()
                .AddInterceptors(sp.GetRequiredService<WriteWatchInterceptor>()));
            services.AddSingleton<IDbContextFactory<CmpDbContext>, CmpDbContextFactory<PostgresCmpDbContext>>();
        }
        else
        {
            services.AddDbContextPool<CmpDbContext, SqliteCmpDbContext>((sp, o) => o.UseSqlite(connectionString).UseSnakeCaseNamingConvention()
                .AddInterceptors(sp.GetRequiredService<WriteWatchInterceptor>(), SqliteConnectionSetup.Instance));
            services.AddSingleton<IDbContextFactory<CmpDbContext>, CmpDbContextFactory<SqliteCmpDbContext>>();
            services.AddHostedService<SqliteCheckpointer>();
        }
        return services;
    }

    /// <summary>Applies the provider's migrations; on SQLite also turns on WAL so readers do not block the writer.</summary>
    public static async Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        if (db.Database.IsSqlite())
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        }
        await db.Database.MigrateAsync(ct);
    }
}

/// <summary>
/// Per-connection SQLite settings, applied on every open. In WAL mode, <c>synchronous=NORMAL</c> syncs at checkpoints
/// instead of on every commit: a committed turn and its usage record survive the application crashing (they are in
/// the WAL), and only a power cut can lose the last moments, never corrupt the file; it is SQLite's recommended
/// setting for WAL. <c>busy_timeout</c> lets a writer that finds the database locked wait in SQLite itself, which
/// retries within a millisecond or two, instead of Microsoft.Data.Sqlite's own retry, which sleeps 150 ms at a time.
/// <c>wal_autocheckpoint=0</c>: no commit pays for a checkpoint; <see cref="SqliteCheckpointer"/> runs them.
/// <c>journal_size_limit</c>: when the WAL starts over, a file grown past 128 MB (after a burst) is cut back;
/// in steady use it stays below that (see <see cref="SqliteCheckpointer"/>), so its space is reused, not reallocated.
/// </summary>
internal sealed class SqliteConnectionSetup : DbConnectionInterceptor
{
    public static readonly SqliteConnectionSetup Instance = new();

    private const string Pragmas = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=134217728;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Lets <c>dotnet ef migrations add --context SqliteCmpDbContext</c> build the model without starting the app.</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteCmpDbContext>
{
    public SqliteCmpDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteCmpDbContext>().UseSqlite(PersistenceExtensions.DefaultConnectionString).UseSnakeCaseNamingConvention().Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresCmpDbContext>
{
    public PostgresCmpDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresCmpDbContext>().UseNpgsql("Host=localhost;Database=cmp").UseSnakeCaseNamingConvention().Options);
}
