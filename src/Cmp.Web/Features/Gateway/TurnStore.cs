using System.Data.Common;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Cmp.Web.Features.Gateway;

/// <summary>
/// Inserts metered turns for one <see cref="TurnWriter"/> loop, on a connection that loop keeps open, with INSERT
/// statements written once: per batch no SQL is generated, no change tracker runs and no connection is opened
/// (on SQLite an open also re-registers EF's functions and runs the connection pragmas). This was most of the
/// gateway's allocations per call (bench/README.md, "Gateway load"). Table and column names, quoting, value
/// conversions and parameter types all come from the EF model and its type mappings, so the rows are the ones
/// SaveChanges would write. The two tables are not watched by <see cref="WriteWatchInterceptor"/> (nothing cached
/// is read from them), which is why bypassing EF's interceptors here is safe; the constructor checks it.
/// </summary>
internal sealed class TurnStore : IAsyncDisposable
{
    /// <summary>Rows that surely fit in one batch message on PostgreSQL, which then commits as one implicit transaction.</summary>
    public const int OneMessageRows = 500;

    private sealed record Column(IProperty Property, IClrPropertyGetter Getter, RelationalTypeMapping Mapping, string Parameter);

    private sealed record Insert(string Sql, Column[] Columns);

    private readonly AsyncServiceScope _scope;
    private readonly CmpDbContext _db;
    private readonly DbConnection _connection;
    private readonly bool _sqlite;
    private readonly Insert _usage;
    private readonly Insert _message;
    private readonly Insert _completion;
    private readonly Insert _total;
    private readonly DbCommand _usageCommand;
    private readonly DbCommand _messageCommand;
    private readonly DbCommand _completionCommand;
    private readonly DbCommand _totalCommand;
    private readonly SqliteWriteGate _gate;

    private TurnStore(AsyncServiceScope scope, CmpDbContext db)
    {
        _scope = scope;
        _db = db;
        _connection = db.Database.GetDbConnection();
        _sqlite = db.Database.IsSqlite();
        _gate = scope.ServiceProvider.GetRequiredService<SqliteWriteGate>();
        var watched = WriteWatchInterceptor.WatchedEntities;
        if (watched.Contains(typeof(UsageRecord)) || watched.Contains(typeof(ConversationMessage)) || watched.Contains(typeof(IdempotencyRecord)) || watched.Contains(typeof(UsageTotal)))
        {
            throw new InvalidOperationException("Turns are written around EF's interceptors, so their tables must not be watched.");
        }
        _usage = Build(db, typeof(UsageRecord), _sqlite);
        _message = Build(db, typeof(ConversationMessage), _sqlite);
        _completion = BuildCompletion(db, _sqlite);
        _total = BuildTotal(db, _sqlite);
        _usageCommand = Command(_usage.Sql);
        _messageCommand = Command(_message.Sql);
        _completionCommand = Command(_completion.Sql);
        _totalCommand = Command(_total.Sql);
    }

    /// <summary>Opens the connection (through EF, so the connection settings apply) and prepares the statements.</summary>
    public static async Task<TurnStore> OpenAsync(IServiceScopeFactory scopes)
    {
        var scope = scopes.CreateAsyncScope();
        try
        {
            var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
            await db.Database.OpenConnectionAsync(CancellationToken.None);
            return new TurnStore(scope, db);
        }
        catch
        {
            await scope.DisposeAsync();
            throw;
        }
    }

    private DbCommand Command(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private static Insert Build(CmpDbContext db, Type clrType, bool sqlite)
    {
        var entity = db.Model.FindEntityType(clrType) ?? throw new InvalidOperationException($"{clrType.Name} is not in the model.");
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var sql = db.GetService<ISqlGenerationHelper>();
        var properties = entity.GetProperties().Where(p => p.GetColumnName(table) is not null).ToList();
        if (properties.FirstOrDefault(p => p.IsShadowProperty()) is { } shadow)
        {
            throw new InvalidOperationException($"{clrType.Name}.{shadow.Name} is a shadow property; TurnStore reads values from the object.");
        }
        // SQLite binds by name; PostgreSQL's batches take positional parameters ($1, $2, …).
        var columns = properties.Select((p, i) => new Column(p, p.GetGetter(), (RelationalTypeMapping)p.GetRelationalTypeMapping(), sqlite ? "@p" + i : "")).ToArray();
        var names = string.Join(", ", properties.Select(p => sql.DelimitIdentifier(p.GetColumnName(table)!)));
        var values = string.Join(", ", columns.Select((c, i) => sqlite ? c.Parameter : "$" + (i + 1)));
        return new Insert($"INSERT INTO {sql.DelimitIdentifier(table.Name, table.Schema)} ({names}) VALUES ({values})", columns);
    }

    /// <summary>
    /// <c>UPDATE idempotency_records SET state = …, response = … WHERE id = …</c>: a reserved Idempotency-Key is
    /// completed with its answer in the transaction that meters the call. Bound from an <see cref="IdempotencyRecord"/>
    /// holding the new values.
    /// </summary>
    private static Insert BuildCompletion(CmpDbContext db, bool sqlite)
    {
        var entity = db.Model.FindEntityType(typeof(IdempotencyRecord))!;
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var sql = db.GetService<ISqlGenerationHelper>();
        var properties = new[] { nameof(IdempotencyRecord.State), nameof(IdempotencyRecord.Response), nameof(IdempotencyRecord.Id) }
            .Select(n => entity.FindProperty(n)!).ToArray();
        var columns = properties.Select((p, i) => new Column(p, p.GetGetter(), (RelationalTypeMapping)p.GetRelationalTypeMapping(), sqlite ? "@p" + i : "")).ToArray();
        string Name(int i) => sql.DelimitIdentifier(properties[i].GetColumnName(table)!);
        string Value(int i) => sqlite ? columns[i].Parameter : "$" + (i + 1);
        return new Insert($"UPDATE {sql.DelimitIdentifier(table.Name, table.Schema)} SET {Name(0)} = {Value(0)}, {Name(1)} = {Value(1)} WHERE {Name(2)} = {Value(2)}", columns);
    }

    /// <summary>
    /// <c>INSERT INTO usage_totals … ON CONFLICT … DO UPDATE SET invocations = invocations + …, tokens = tokens + …</c>:
    /// the month's sums of a resource and plan, grown in the transaction that inserts the records (SQLite and
    /// PostgreSQL spell the upsert alike).
    /// </summary>
    private static Insert BuildTotal(CmpDbContext db, bool sqlite)
    {
        var insert = Build(db, typeof(UsageTotal), sqlite);
        var entity = db.Model.FindEntityType(typeof(UsageTotal))!;
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var sql = db.GetService<ISqlGenerationHelper>();
        string Column(string property) => sql.DelimitIdentifier(entity.FindProperty(property)!.GetColumnName(table)!);
        var name = sql.DelimitIdentifier(table.Name, table.Schema);
        var invocations = Column(nameof(UsageTotal.Invocations));
        var tokens = Column(nameof(UsageTotal.Tokens));
        return insert with
        {
            Sql = insert.Sql + $" ON CONFLICT ({Column(nameof(UsageTotal.ResourceId))}, {Column(nameof(UsageTotal.PlanId))}, {Column(nameof(UsageTotal.Period))})"
                + $" DO UPDATE SET {invocations} = {name}.{invocations} + excluded.{invocations}, {tokens} = {name}.{tokens} + excluded.{tokens}",
        };
    }

    /// <summary>
    /// The batch's records summed per resource, plan and month, in key order: two writers that update the same rows
    /// take their locks in the same order, so they wait for each other but never deadlock.
    /// </summary>
    private static List<UsageTotal> Totals(IReadOnlyList<MeteredTurn> turns) =>
        turns.GroupBy(t => (t.Usage.ResourceId, PlanId: t.Usage.PlanId ?? Guid.Empty, Period: CapReservations.PeriodOf(t.Usage.CreatedAt)))
            .Select(g => new UsageTotal
            {
                ResourceId = g.Key.ResourceId,
                PlanId = g.Key.PlanId,
                Period = g.Key.Period,
                Invocations = g.LongCount(),
                Tokens = g.Sum(t => t.Usage.InputTokens + t.Usage.OutputTokens),
            })
            .OrderBy(t => t.ResourceId).ThenBy(t => t.PlanId).ThenBy(t => t.Period, StringComparer.Ordinal)
            .ToList();

    private static IdempotencyRecord Completed(IdempotencyCompletion completion) => new()
    {
        Id = completion.RecordId,
        Scope = "",
        IdempotencyKey = "",
        Fingerprint = "",
        State = IdempotencyState.Completed,
        Response = completion.Response,
    };

    /// <summary>Adds the entity's values to a parameter collection, converted and typed as EF would.</summary>
    private static void Bind(DbCommand factory, DbParameterCollection parameters, Insert insert, object entity)
    {
        parameters.Clear();
        foreach (var column in insert.Columns)
        {
            var value = column.Getter.GetClrValueUsingContainingEntity(entity);
            parameters.Add(column.Mapping.CreateParameter(factory, column.Parameter, value, column.Property.IsNullable));
        }
    }

    /// <summary>Inserts the turns in one transaction: all of them, or (on any error) none.</summary>
    public async Task WriteAsync(IReadOnlyList<MeteredTurn> turns)
    {
        if (_sqlite)
        {
            await _gate.WaitAsync();
            try
            {
                await WriteSqliteAsync(turns);
            }
            finally
            {
                _gate.Release();
            }
            return;
        }
        await WritePostgresAsync(turns);
    }

    private async Task WriteSqliteAsync(IReadOnlyList<MeteredTurn> turns)
    {
        await using var transaction = await _connection.BeginTransactionAsync(CancellationToken.None);
        _usageCommand.Transaction = transaction;
        _messageCommand.Transaction = transaction;
        foreach (var turn in turns)
        {
            Bind(_usageCommand, _usageCommand.Parameters, _usage, turn.Usage);
            await _usageCommand.ExecuteNonQueryAsync(CancellationToken.None);
            foreach (var message in turn.Messages)
            {
                Bind(_messageCommand, _messageCommand.Parameters, _message, message);
                await _messageCommand.ExecuteNonQueryAsync(CancellationToken.None);
            }
            if (turn.Completion is { } completion)
            {
                _completionCommand.Transaction = transaction;
                Bind(_completionCommand, _completionCommand.Parameters, _completion, Completed(completion));
                await _completionCommand.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        _totalCommand.Transaction = transaction;
        foreach (var total in Totals(turns))
        {
            Bind(_totalCommand, _totalCommand.Parameters, _total, total);
            await _totalCommand.ExecuteNonQueryAsync(CancellationToken.None);
        }
        await transaction.CommitAsync(CancellationToken.None);
    }

    private async Task WritePostgresAsync(IReadOnlyList<MeteredTurn> turns)
    {
        var connection = (NpgsqlConnection)_connection;
        await using var batch = connection.CreateBatch();
        var rows = 0;
        foreach (var turn in turns)
        {
            batch.BatchCommands.Add(BatchCommand(_usage, turn.Usage));
            foreach (var message in turn.Messages)
            {
                batch.BatchCommands.Add(BatchCommand(_message, message));
            }
            if (turn.Completion is { } completion)
            {
                batch.BatchCommands.Add(BatchCommand(_completion, Completed(completion)));
            }
            rows += 1 + turn.Messages.Count + (turn.Completion is null ? 0 : 1);
        }
        foreach (var total in Totals(turns))
        {
            batch.BatchCommands.Add(BatchCommand(_total, total));
            rows++;
        }
        if (rows <= OneMessageRows)
        {
            // One batch message runs as one implicit transaction (all or nothing): no BEGIN/COMMIT round trips.
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
            return;
        }
        await using var tx = await connection.BeginTransactionAsync(CancellationToken.None);
        batch.Transaction = tx;
        await batch.ExecuteNonQueryAsync(CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
    }

    private NpgsqlBatchCommand BatchCommand(Insert insert, object entity)
    {
        var command = new NpgsqlBatchCommand(insert.Sql);
        Bind(_usageCommand, command.Parameters, insert, entity);
        return command;
    }

    public async ValueTask DisposeAsync()
    {
        await _usageCommand.DisposeAsync();
        await _messageCommand.DisposeAsync();
        await _completionCommand.DisposeAsync();
        await _totalCommand.DisposeAsync();
        await _db.Database.CloseConnectionAsync();
        await _scope.DisposeAsync();
    }
}
