using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// Moves SQLite's WAL into the database file once a second, in the background. Left to itself SQLite does this
/// inside whichever commit crosses 1,000 pages, and that caller waits for the copy and its fsync; here no request
/// does (connections run with <c>wal_autocheckpoint=0</c>, see <see cref="SqliteConnectionSetup"/>). A PASSIVE
/// checkpoint never blocks readers or writers; what it cannot copy yet it copies on a later tick.
/// </summary>
public sealed class SqliteCheckpointer(IServiceScopeFactory scopes, SqliteWriteGate gate, ILogger<SqliteCheckpointer> logger) : BackgroundService
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
    private const string Restart = "PRAGMA busy_timeout=50; PRAGMA wal_checkpoint(RESTART); PRAGMA busy_timeout=10000;";
    private const string Truncate = "PRAGMA wal_checkpoint(TRUNCATE);";

    /// <summary>WAL frames (pages, 4 KB each by default) past which the WAL is made to start over: about 64 MB.</summary>
    public const int RestartFrames = 16384;

    /// <summary>
    /// A PASSIVE checkpoint copies what is in the WAL without blocking anyone, but under steady writes it never
    /// finds the WAL fully copied (commits keep landing while it runs), and SQLite only starts the WAL over from
    /// its beginning after a complete one: the WAL then grows without end (1.3 GB after a few minutes at 500
    /// calls/s), and with it the cost of every write and of the tail latency (bench/README.md, "Gateway load").
    /// So once the WAL holds <see cref="RestartFrames"/>, after the PASSIVE pass a RESTART checkpoint copies the few
    /// frames that arrived meanwhile and makes the next writer start the WAL over. It holds writers back for that
    /// short copy: the gateway's turn writer waits at <see cref="SqliteWriteGate"/> and goes on the moment it is
    /// done (at SQLite's lock it would sleep 1, 2, 5, 10 ms… between tries, measured at 8–18 ms a time). It gives up
    /// after 50 ms when a reader is in the way, and the next tick tries again.
    /// </summary>
    private async Task CheckpointAsync(string pragma, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            var connection = db.Database.GetDbConnection();
            await using var command = connection.CreateCommand();
            command.CommandText = pragma;
            long frames;
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                // One row: busy (1 if it could not finish), frames in the WAL, frames copied.
                frames = await reader.ReadAsync(ct) ? reader.GetInt64(1) : 0;
            }
            if (pragma == Passive && frames >= RestartFrames)
            {
                await gate.WaitAsync(ct);
                try
                {
                    command.CommandText = Restart;
                    await command.ExecuteNonQueryAsync(ct);
                }
                finally
                {
                    gate.Release();
                }
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}

/// <summary>
/// Lets the checkpointer's RESTART and the gateway's turn writer take turns in process, so the writer waits exactly
/// as long as the checkpoint holds the database and not for SQLite's busy-handler sleeps.
/// </summary>
public sealed class SqliteWriteGate
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public Task WaitAsync(CancellationToken ct = default) => _gate.WaitAsync(ct);

    public void Release() => _gate.Release();

    /// <summary>Runs a write; on SQLite it first waits for this process's other writers here, in memory, rather than in SQLite's busy handler.</summary>
    public async Task<int> WriteAsync(CmpDbContext db, Func<Task<int>> write)
    {
        if (!db.Database.IsSqlite())
        {
            return await write();
        }
        await _gate.WaitAsync();
        try
        {
            return await write();
        }
        finally
        {
            _gate.Release();
        }
    }
}
