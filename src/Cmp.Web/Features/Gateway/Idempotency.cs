using System.Security.Cryptography;
using System.Text;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Gateway;

/// <summary>An Idempotency-Key's life (wire names in_progress, completed).</summary>
public enum IdempotencyState
{
    /// <summary>Reserved by a call that is running. → Completed (its answer is stored with its usage), or deleted (the run failed).</summary>
    InProgress,
    /// <summary>Final for 24 h: retries get <see cref="IdempotencyRecord.Response"/> again.</summary>
    Completed,
}

/// <summary>
/// One Idempotency-Key of one credential (a secret key, or one widget session): reserved before the run, completed in
/// the same transaction as the run's usage record and turn, so a replayed answer is always one that was metered.
/// </summary>
public sealed class IdempotencyRecord : Entity
{
    /// <summary><c>key:&lt;api key id&gt;</c> or <c>widget:&lt;widget session id&gt;</c>: a key never reaches another credential's answer.</summary>
    public required string Scope { get; set; }
    public required string IdempotencyKey { get; set; }
    /// <summary>SHA-256 of what the call asked (input and session): the same key with another body is refused.</summary>
    public required string Fingerprint { get; set; }
    public IdempotencyState State { get; set; }
    /// <summary>The answer object (JSON) once completed.</summary>
    public string? Response { get; set; }
}

internal sealed class IdempotencyConfiguration : IEntityTypeConfiguration<IdempotencyRecord>
{
    public void Configure(EntityTypeBuilder<IdempotencyRecord> b)
    {
        b.Property(r => r.Scope).HasMaxLength(80);
        b.Property(r => r.IdempotencyKey).HasMaxLength(200);
        b.Property(r => r.Fingerprint).HasMaxLength(64);
        b.HasIndex(r => new { r.Scope, r.IdempotencyKey }).IsUnique();
        b.HasIndex(r => r.CreatedAt);
    }
}

/// <summary>What reserving an Idempotency-Key gave.</summary>
public abstract record IdempotencyOutcome
{
    /// <summary>The key is this call's: run, then complete (or release) the record.</summary>
    public sealed record Reserved(Guid RecordId) : IdempotencyOutcome;

    /// <summary>The key already has an answer for the same request: send it again, meter nothing.</summary>
    public sealed record Replay(string Response) : IdempotencyOutcome;

    /// <summary>Another call with this key is running now.</summary>
    public sealed record InProgress : IdempotencyOutcome;

    /// <summary>The key was used for a different request.</summary>
    public sealed record Mismatch : IdempotencyOutcome;
}

/// <summary>
/// Idempotency as Stripe does it: a key is reserved atomically before the run (an INSERT that only one caller can
/// win, thanks to the unique index), a concurrent call with the same key is told it is in progress, the same key
/// with another request is refused, and a retry after completion gets the stored answer. Keys last 24 h; a
/// reservation left behind by a crashed process is taken over once no run could still hold it.
/// </summary>
public sealed class IdempotencyStore(TimeProvider time, SqliteWriteGate gate)
{
    /// <summary>How long a completed key replays its answer.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromHours(24);

    /// <summary>Past this a reservation is abandoned (longer than any run's time budget).</summary>
    public static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(15);

    public static string Fingerprint(string input, string? sessionId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(input + "\u0000" + (sessionId ?? ""))));

    public async Task<IdempotencyOutcome> ReserveAsync(CmpDbContext db, string scope, string key, string fingerprint, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var id = Guid.CreateVersion7();
            var inProgress = nameof(IdempotencyState.InProgress);
            var inserted = await gate.WriteAsync(db, () => db.Database.ExecuteSqlAsync($"""
                INSERT INTO idempotency_records (id, created_at, scope, idempotency_key, fingerprint, state, response)
                VALUES ({id}, {now}, {scope}, {key}, {fingerprint}, {inProgress}, NULL)
                ON CONFLICT (scope, idempotency_key) DO NOTHING
                """, ct));
            if (inserted == 1)
            {
                return new IdempotencyOutcome.Reserved(id);
            }
            var held = await db.IdempotencyRecords.AsNoTracking().Where(r => r.Scope == scope && r.IdempotencyKey == key)
                .Select(r => new { r.Id, r.CreatedAt, r.Fingerprint, r.State, r.Response }).FirstOrDefaultAsync(ct);
            if (held is null)
            {
                continue; // released meanwhile: try again
            }
            var stale = held.State == IdempotencyState.Completed ? now - held.CreatedAt >= Window : now - held.CreatedAt >= Abandoned;
            if (stale)
            {
                // The key is free again: remove exactly the record we saw (a concurrent taker removes it only once).
                await gate.WriteAsync(db, () => db.IdempotencyRecords.Where(r => r.Id == held.Id).ExecuteDeleteAsync(ct));
                continue;
            }
            // While the first call runs, any other call with its key waits its turn (409), whatever it asks; after it, only the same request replays.
            if (held.State != IdempotencyState.Completed || held.Response is null)
            {
                return new IdempotencyOutcome.InProgress();
            }
            return held.Fingerprint == fingerprint ? new IdempotencyOutcome.Replay(held.Response) : new IdempotencyOutcome.Mismatch();
        }
        return new IdempotencyOutcome.InProgress();
    }

    /// <summary>Frees a reserved key whose call ended without an answer to keep (refused by the cap, or failed): a retry runs again.</summary>
    public Task ReleaseAsync(CmpDbContext db, Guid recordId) =>
        gate.WriteAsync(db, () => db.IdempotencyRecords.Where(r => r.Id == recordId && r.State == IdempotencyState.InProgress).ExecuteDeleteAsync(CancellationToken.None));
}

/// <summary>
/// Deletes Idempotency-Keys past their 24 hours (an expired key is free anyway; this keeps the table to a day of
/// keys). Every hour, and once at start; several server processes may sweep at once, a row is deleted only once.
/// </summary>
public sealed class IdempotencySweeper(IServiceScopeFactory scopes, TimeProvider time, ILogger<IdempotencySweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every, time);
        do
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Sweeping expired Idempotency-Keys failed; the next sweep tries again.");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Deletes the keys created more than 24 h ago; how many.</summary>
    internal async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        var cutoff = time.GetUtcNow().UtcDateTime - IdempotencyStore.Window;
        return await scope.ServiceProvider.GetRequiredService<SqliteWriteGate>().WriteAsync(db,
            () => db.IdempotencyRecords.Where(r => r.CreatedAt < cutoff).ExecuteDeleteAsync(ct));
    }
}
