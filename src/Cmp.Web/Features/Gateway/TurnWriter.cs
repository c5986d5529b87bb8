using System.Threading.Channels;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Gateway;

/// <summary>An Idempotency-Key reservation to complete with the answer, in the transaction that meters the call.</summary>
public sealed record IdempotencyCompletion(Guid RecordId, string Response);

/// <summary>One metered run to store: its usage record, the conversation messages of the turn, and its Idempotency-Key's answer.</summary>
public sealed record MeteredTurn(UsageRecord Usage, IReadOnlyList<ConversationMessage> Messages, IdempotencyCompletion? Completion = null);

/// <summary>
/// Writes metered turns with group commit. Each call hands its turn (usage record and messages) to one writer and
/// waits until the transaction holding it has committed; the writer puts every turn waiting at that moment into
/// the same transaction. A turn and its usage record are always in one transaction, so a crash loses or
/// double-counts neither, and no answer leaves before its record is durable. Under load this turns hundreds of
/// small commits (and on PostgreSQL as many WAL flushes) into a few larger ones, and on SQLite it keeps writers
/// from queueing for the database lock. Each writer inserts through its own <see cref="TurnStore"/>.
/// </summary>
public sealed class TurnWriter(IServiceScopeFactory scopes, IConfiguration configuration, ILogger<TurnWriter> logger) : BackgroundService
{
    /// <summary>The most turns one transaction takes.</summary>
    public const int MaxBatch = 256;

    private sealed record Pending(MeteredTurn Turn, TaskCompletionSource Done);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions());

    /// <summary>Stores the turn; completes once it is committed (the usage record, the messages and the Idempotency-Key's answer together).</summary>
    public Task WriteAsync(MeteredTurn turn)
    {
        var pending = new Pending(turn, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The server is stopping; the call was not stored.");
        }
        return pending.Done.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Stop taking new turns only when asked to stop, then drain what is queued: every waiting caller gets an answer.
        using var registration = stoppingToken.Register(() => _queue.Writer.TryComplete());
        bool sqlite;
        await using (var scope = scopes.CreateAsyncScope())
        {
            sqlite = scope.ServiceProvider.GetRequiredService<CmpDbContext>().Database.IsSqlite();
        }
        // SQLite has one writer at a time anyway; PostgreSQL overlaps a few transactions' round trips and flushes.
        var writers = sqlite ? 1 : Math.Clamp(configuration.GetValue("Gateway:Writers", 4), 1, 32);
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(WriteLoopAsync, CancellationToken.None)));
    }

    /// <summary>The store one writer loop uses; opened on first use and again after an error.</summary>
    private sealed class Slot : IAsyncDisposable
    {
        public TurnStore? Store { get; set; }

        public async ValueTask DisposeAsync()
        {
            if (Store is not null)
            {
                await Store.DisposeAsync();
                Store = null;
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        await using var slot = new Slot();
        var batch = new List<Pending>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            await WriteBatchAsync(slot, batch);
        }
    }

    /// <summary>Writes these turns as one batch, as the writer would have taken them together (for tests); true for each turn stored.</summary>
    internal async Task<bool[]> WriteTogetherAsync(IReadOnlyList<MeteredTurn> turns)
    {
        var batch = turns.Select(t => new Pending(t, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))).ToList();
        await using (var slot = new Slot())
        {
            await WriteBatchAsync(slot, batch);
        }
        return batch.Select(p => p.Done.Task.IsCompletedSuccessfully).ToArray();
    }

    private async Task WriteBatchAsync(Slot slot, List<Pending> batch)
    {
        try
        {
            await SaveAsync(slot, batch.ConvertAll(p => p.Turn));
            batch.ForEach(p => p.Done.TrySetResult());
            return;
        }
        catch (Exception ex) when (batch.Count > 1)
        {
            // One turn spoiled the batch: write each alone, so the others are stored and only that one fails.
            logger.LogDebug(ex, "A batch of {Count} turns failed; writing them one by one.", batch.Count);
        }
        catch (Exception ex)
        {
            batch[0].Done.TrySetException(ex);
            return;
        }
        foreach (var pending in batch)
        {
            try
            {
                await SaveAsync(slot, [pending.Turn]);
                pending.Done.TrySetResult();
            }
            catch (Exception ex)
            {
                pending.Done.TrySetException(ex);
            }
        }
    }

    private async Task SaveAsync(Slot slot, IReadOnlyList<MeteredTurn> turns)
    {
        slot.Store ??= await TurnStore.OpenAsync(scopes);
        try
        {
            await slot.Store.WriteAsync(turns);
        }
        catch (Exception ex) when (!DbErrors.IsUniqueViolation(ex))
        {
            // The connection may be broken: open a fresh one for the next write.
            await slot.DisposeAsync();
            throw;
        }
    }
}
