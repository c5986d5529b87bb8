using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Components;

/// <summary>
/// Base of the console pages. A circuit lives as long as its tab, so a page never keeps a database context:
/// each operation takes one from the pool with an <see cref="Access"/> built from the signed-in user, and
/// gives it back. The operations are the features' own, the ones the API's endpoints call.
/// </summary>
public abstract class ConsolePage : ComponentBase
{
    [Inject]
    protected IDbContextFactory<CmpDbContext> Contexts { get; set; } = default!;

    [Inject]
    protected NavigationManager Navigation { get; set; } = default!;

    /// <summary>The clock every operation is given (the system's; tests set their own).</summary>
    [Inject]
    protected TimeProvider Time { get; set; } = default!;

    protected DateTime UtcNow => Time.GetUtcNow().UtcDateTime;

    [CascadingParameter]
    protected Workspace Workspace { get; set; } = default!;

    protected async Task<T> RunAsync<T>(Func<CmpDbContext, Access, Task<T>> operation)
    {
        await using var db = Contexts.CreateDbContext();
        return await operation(db, new Access(db, Workspace.User));
    }

    protected async Task RunAsync(Func<CmpDbContext, Access, Task> operation)
    {
        await using var db = Contexts.CreateDbContext();
        await operation(db, new Access(db, Workspace.User));
    }
}
