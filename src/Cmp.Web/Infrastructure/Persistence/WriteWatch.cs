using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
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

    public void Bump() => Interlocked.Increment(ref _value);
}

/// <summary>
/// Watches every command EF Core sends (SaveChanges, ExecuteUpdate/Delete, raw SQL alike): a write to a
/// watched table moves the <see cref="WriteGeneration"/> when it runs and again when its transaction
/// commits, so nothing read before the commit outlives it in a cache.
/// </summary>
public sealed class WriteWatchInterceptor(WriteGeneration generation) : DbCommandInterceptor, IDbTransactionInterceptor
{
    // A watched table's name as a whole identifier, quoted (SQLite) or not (PostgreSQL quotes only when it must).
    private static readonly Regex WatchedTable = new(
        "(?<![A-Za-z0-9_])\"?(api_keys|customer_agent_configs|resources|provider_agents|plans|plan_components|agent_secrets|agent_files|flow_versions)\"?(?![A-Za-z0-9_])",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>A tag (<c>TagWith</c>) for writes that cannot change what the gateway caches, such as a key's last use.</summary>
    public const string Unwatched = "cmp:unwatched";

    private readonly ConditionalWeakTable<DbTransaction, object> _pending = [];

    internal static bool IsWatchedWrite(string sql)
    {
        if (sql.Contains(Unwatched, StringComparison.Ordinal)
            || !(sql.Contains("INSERT", StringComparison.Ordinal) || sql.Contains("UPDATE", StringComparison.Ordinal) || sql.Contains("DELETE", StringComparison.Ordinal)))
        {
            return false;
        }
        return WatchedTable.IsMatch(sql);
    }

    private void Seen(DbCommand command)
    {
        if (IsWatchedWrite(command.CommandText))
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
        Seen(command);
        return result;
    }

    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Seen(command);
        return ValueTask.FromResult(result);
    }

    public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
    {
        Seen(command);
        return result;
    }

    public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        Seen(command);
        return ValueTask.FromResult(result);
    }

    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        Seen(command);
        return result;
    }

    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Seen(command);
        return ValueTask.FromResult(result);
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Committed(transaction);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(transaction);
        return Task.CompletedTask;
    }
}
