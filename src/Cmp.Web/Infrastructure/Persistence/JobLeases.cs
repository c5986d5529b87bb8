using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>Who runs a scheduled job right now, and until when: one row per job.</summary>
public sealed class JobLease
{
    public required string Name { get; set; }
    public required string Holder { get; set; }
    public DateTime ExpiresAt { get; set; }
}

internal sealed class JobLeaseConfiguration : IEntityTypeConfiguration<JobLease>
{
    public void Configure(EntityTypeBuilder<JobLease> b)
    {
        b.HasKey(l => l.Name);
        b.Property(l => l.Name).HasMaxLength(100);
        b.Property(l => l.Holder).HasMaxLength(100);
    }
}

/// <summary>
/// A lease in the database, so that of several server processes (or several timers in one) only one runs a job at a
/// time. Taking it is one conditional upsert (atomic on SQLite and PostgreSQL): it succeeds when nobody holds the
/// lease, when the holder's time ran out (a crashed process), or when the caller already holds it (a renewal).
/// The lease is a courtesy that saves duplicate work; the job's own writes must still be safe to repeat.
/// </summary>
public static class JobLeases
{
    public static async Task<bool> TryTakeAsync(CmpDbContext db, string name, string holder, DateTime now, TimeSpan length, CancellationToken ct)
    {
        var until = now + length;
        var taken = await db.Database.ExecuteSqlAsync($"""
            INSERT INTO job_leases (name, holder, expires_at) VALUES ({name}, {holder}, {until})
            ON CONFLICT (name) DO UPDATE SET holder = {holder}, expires_at = {until}
            WHERE job_leases.expires_at <= {now} OR job_leases.holder = {holder}
            """, ct);
        return taken == 1;
    }

    public static Task ReleaseAsync(CmpDbContext db, string name, string holder) =>
        db.Database.ExecuteSqlAsync($"DELETE FROM job_leases WHERE name = {name} AND holder = {holder}", CancellationToken.None);
}
