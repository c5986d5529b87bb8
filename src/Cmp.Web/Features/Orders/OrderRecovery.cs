using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Orders;

/// <summary>
/// On start, finishes the orders left EXECUTING when a process stopped between the approval and the fulfilment:
/// each ends DONE with its resource, or ERRED with the reason. Fulfilment is a guarded transition, so an order
/// another process finishes at the same moment is finished once.
/// </summary>
public sealed class OrderRecovery(IServiceScopeFactory scopes, TimeProvider time, ILogger<OrderRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        List<Guid> stuck;
        try
        {
            stuck = await db.Orders.Where(o => o.State == OrderState.Executing).Select(o => o.Id).ToListAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Could not look for orders left EXECUTING: {Error}", ex.Message);
            return;
        }
        foreach (var id in stuck)
        {
            try
            {
                await OrderOperations.FulfilAsync(db, id, time, CancellationToken.None);
                db.ChangeTracker.Clear();
                var state = await db.Orders.Where(o => o.Id == id).Select(o => o.State).FirstAsync(CancellationToken.None);
                logger.LogInformation("Order {OrderId} left EXECUTING by a stopped process is now {State}", id, state);
            }
            catch (Exception ex)
            {
                // The server keeps running; the order stays EXECUTING and is tried again at the next start.
                db.ChangeTracker.Clear();
                logger.LogError(ex, "Order {OrderId} left EXECUTING could not be finished", id);
            }
        }
    }
}
