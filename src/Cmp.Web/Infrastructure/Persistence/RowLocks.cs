using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// A transaction that keeps other guarded operations on one row waiting until it ends, for a check followed by a
/// write (count the owners, then remove one) that must not interleave with another of its kind.
/// </summary>
public static class RowLocks
{
    /// <summary>
    /// Begins a transaction holding the row of <typeparamref name="T"/> with this id. Every operation that must not
    /// interleave takes the same lock first.
    /// PostgreSQL: <c>SELECT … FOR UPDATE</c> on the row. Under READ COMMITTED a check inside the write (a count in a
    /// <c>DELETE</c>'s <c>WHERE</c>) is not enough: two transactions both count from before either committed and both
    /// delete. With the lock the second waits, and its next statements see what the first committed.
    /// SQLite: Microsoft.Data.Sqlite begins a transaction IMMEDIATE, taking the database's single write lock at once,
    /// so such transactions already run one after the other and read the latest commit; there is nothing more to lock.
    /// </summary>
    public static async Task<IDbContextTransaction> BeginLockingAsync<T>(this CmpDbContext db, Guid id, CancellationToken ct) where T : Entity
    {
        var tx = await db.Database.BeginTransactionAsync(ct);
        if (db.Database.IsSqlite())
        {
            return tx;
        }
        try
        {
            var entity = db.Model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model.");
            var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
            var column = entity.FindProperty(nameof(Entity.Id))!.GetColumnName(table)!;
            var name = table.Schema is null ? Quote(table.Name) : $"{Quote(table.Schema)}.{Quote(table.Name)}";
            // The identifiers come from the EF model, never from input; the id is a parameter.
            var sql = $"SELECT 1 FROM {name} WHERE {Quote(column)} = {{0}} FOR UPDATE";
            await db.Database.ExecuteSqlRawAsync(sql, [id], ct);
            return tx;
        }
        catch
        {
            await tx.DisposeAsync();
            throw;
        }
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
