using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Internal;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// Contexts from the same pool the requests use, for code that outlives a request: a Blazor circuit lives
/// as long as its browser tab, so each of its operations takes a context and gives it back.
/// </summary>
#pragma warning disable EF1001 // DbContextPool is EF Core's own pooling, the one AddDbContextPool registers.
internal sealed class CmpDbContextFactory<TContext>(IDbContextPool<TContext> pool) : IDbContextFactory<CmpDbContext>
    where TContext : CmpDbContext
{
    private readonly PooledDbContextFactory<TContext> _inner = new(pool);

    public CmpDbContext CreateDbContext() => _inner.CreateDbContext();
}
#pragma warning restore EF1001
