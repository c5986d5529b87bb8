namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// Marks a row whose state changes over time. <see cref="Version"/> is an app-managed
/// concurrency token: it is replaced on every save, and EF adds the old value to the
/// <c>WHERE</c> of the update, so a lost update becomes a <see cref="Microsoft.EntityFrameworkCore.DbUpdateConcurrencyException"/>.
/// </summary>
public interface IVersioned
{
    Guid Version { get; set; }
}

/// <summary>Ids and timestamps shared by every table.</summary>
public abstract class Entity
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    public DateTime CreatedAt { get; set; } = DateTime.UtcNow;
}
