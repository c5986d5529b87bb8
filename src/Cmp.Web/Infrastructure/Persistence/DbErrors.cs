using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>Provider-specific error codes, kept in this one place.</summary>
public static class DbErrors
{
    /// <summary>True for a unique index violation, thrown by the provider itself or wrapped by EF.</summary>
    public static bool IsUniqueViolation(Exception ex) => (ex is DbUpdateException ? ex.InnerException : ex) switch
    {
        SqliteException s => s.SqliteErrorCode == 19 && s.Message.Contains("UNIQUE", StringComparison.Ordinal),
        PostgresException p => p.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };

    /// <summary>True for a foreign key violation (a row still points at the one being deleted, or at one that is gone),
    /// thrown by the provider itself or wrapped by EF. SQLite reports it as SQLITE_CONSTRAINT_FOREIGNKEY (787).</summary>
    public static bool IsForeignKeyViolation(Exception ex) => (ex is DbUpdateException ? ex.InnerException : ex) switch
    {
        SqliteException s => s.SqliteErrorCode == 19 && (s.SqliteExtendedErrorCode == 787 || s.Message.Contains("FOREIGN KEY", StringComparison.Ordinal)),
        PostgresException p => p.SqlState == PostgresErrorCodes.ForeignKeyViolation,
        _ => false,
    };
}
