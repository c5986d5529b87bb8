using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Cmp.Web.Infrastructure.Persistence;

public static class PersistenceExtensions
{
    public const string DefaultConnectionString = "Data Source=cmp.db";

    public static bool IsPostgres(IConfiguration configuration) =>
        (configuration["Database:Provider"] ?? "sqlite").ToLowerInvariant() is "postgres" or "postgresql" or "npgsql";

    public static IServiceCollection AddPersistence(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Cmp") ?? DefaultConnectionString;
        if (IsPostgres(configuration))
        {
            services.AddDbContext<CmpDbContext, PostgresCmpDbContext>(o => o.UseNpgsql(connectionString).UseSnakeCaseNamingConvention());
        }
        else
        {
            services.AddDbContext<CmpDbContext, SqliteCmpDbContext>(o => o.UseSqlite(connectionString).UseSnakeCaseNamingConvention());
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
