using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// A counter that moves whenever this process writes to a table the gateway caches from (keys, configs,
/// resources, agents, plans, secrets, files, flow versions). A cached value remembers the counter it was
/// read under and is read again once the counter has moved, so a revoked key, a paused agent or a
/// terminated resource is refused on the very next call. Writes by other processes are bounded by the
/// cache's lifetime instead (see <c>Gateway:CacheSeconds</c>).
/// </summary>
public sealed class WriteGeneration
{
    private long _value;

    public long Current => Volatile.Read(ref _value);

    /// <summary>Raised after each write of this process (not after a peer's), so other processes can be told.</summary>
    public event Action? Bumped;

    public void Bump()
    {
        Interlocked.Increment(ref _value);
        Bumped?.Invoke();
    }

    /// <summary>A write by another server process, heard over Redis: voids this process's cache without telling anyone again.</summary>
    public void BumpFromPeer() => Interlocked.Increment(ref _value);
}

/// <summary>
/// Watches every command EF Core sends (SaveChanges, ExecuteUpdate/Delete, raw SQL alike): a write to a
/// watched table moves the <see cref="WriteGeneration"/> when it runs and again when its transaction
/// commits, so nothing read before the commit outlives it in a cache.
/// </summary>
public sealed class WriteWatchInterceptor(WriteGeneration generation) : DbCommandInterceptor, IDbTransactionInterceptor
{
    /// <summary>The entities the gateway caches; their tables are read from the model, so a rename cannot slip by.</summary>
    public static readonly Type[] WatchedEntities =
    [
        typeof(Features.AgentConfigs.ApiKey), typeof(Features.AgentConfigs.CustomerAgentConfig), typeof(Features.Orders.Resource),
        typeof(Features.Agents.ProviderAgent), typeof(Features.Billing.Plan), typeof(Features.Billing.PlanComponent),
        typeof(Features.Agents.AgentSecret), typeof(Features.Agents.AgentFile), typeof(Features.Agents.FlowVersion),
    ];

    private static readonly AsyncLocal<bool> Quiet = new();

    private Regex? _watched;

    /// <summary>The tables' names as whole identifiers, quoted (SQLite) or not (PostgreSQL quotes only when it must).</summary>
    public static Regex TablePattern(IEnumerable<string> tables) => new(
        "(?<![A-Za-z0-9_])\"?(" + string.Join('|', tables.Select(Regex.Escape)) + ")\"?(?![A-Za-z0-9_])",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>The watched tables of this model.</summary>
    public static IReadOnlyList<string> WatchedTables(Microsoft.EntityFrameworkCore.Metadata.IModel model) =>
        WatchedEntities.Select(t => model.FindEntityType(t)?.GetTableName()
            ?? throw new InvalidOperationException($"{t.Name} is not in the model.")).ToList();

    /// <summary>
    /// Until disposed, this flow's writes leave the generation alone: for a write that cannot change what the
    /// gateway caches, such as a key's last use.
    /// </summary>
    public static IDisposable Unwatched()
    {
        Quiet.Value = true;
        return new QuietScope();
    }

    private sealed class QuietScope : IDisposable
    {
        public void Dispose() => Quiet.Value = false;
    }

    private readonly ConditionalWeakTable<DbTransaction, object> _pending = [];

    internal static bool IsWatchedWrite(string sql, Regex watched)
    {
        if (!(sql.Contains("INSERT", StringComparison.Ordinal) || sql.Contains("UPDATE", StringComparison.Ordinal) || sql.Contains("DELETE", StringComparison.Ordinal)))
        {
            return false;
        }
        return watched.IsMatch(sql);
    }

    private void Seen(DbCommand command, CommandEventData data)
    {
        if (Quiet.Value)
        {
            return;
        }
        var watched = _watched ??= data.Context is { } context ? TablePattern(WatchedTables(context.Model)) : null;
        if (watched is null || IsWatchedWrite(command.CommandText, watched))
        {
            generation.Bump();
            if (command.Transaction is { } transaction)
            {
                _pending.AddOrUpdate(transaction, this);
            }
        }
    }

    private void Committed(DbTransaction transaction)
    {
        if (_pending.TryGetValue(transaction, out _))
        {
            _pending.Remove(transaction);
            generation.Bump();
        }
    }

    public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        Seen(command, eventData);
        return result;
    }

    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Seen(command, eventData);
        return ValueTask.FromResult(result);
    }

    public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
    {
        Seen(command, eventData);
        return result;
    }

    public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        Seen(command, eventData);
        return ValueTask.FromResult(result);
    }

    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        Seen(command, eventData);
        return result;
    }

    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Seen(command, eventData);
        return ValueTask.FromResult(result);
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Committed(transaction);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(transaction);
        return Task.CompletedTask;
    }
}
