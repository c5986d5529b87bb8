using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// Moves SQLite's WAL into the database file once a second, in the background. Left to itself SQLite does this
/// inside whichever commit crosses 1,000 pages, and that caller waits for the copy and its fsync; here no request
/// does (connections run with <c>wal_autocheckpoint=0</c>, see <see cref="SqliteConnectionSetup"/>). A PASSIVE
/// checkpoint never blocks readers or writers; what it cannot copy yet it copies on a later tick.
/// </summary>
public sealed class SqliteCheckpointer(IServiceScopeFactory scopes, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await CheckpointAsync(Passive, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "The SQLite checkpoint failed; the next tick tries again.");
            }
        }
        while (await WaitAsync(timer, stoppingToken));
        // On the way out, fold the whole WAL back so the database file stands alone.
        await CheckpointAsync(Truncate, CancellationToken.None);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private const string Passive = "PRAGMA wal_checkpoint(PASSIVE);";
    private const string Truncate = "PRAGMA wal_checkpoint(TRUNCATE);";

    private async Task CheckpointAsync(string pragma, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        await db.Database.ExecuteSqlRawAsync(pragma, ct);
    }
}
