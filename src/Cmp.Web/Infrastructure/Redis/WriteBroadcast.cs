using Cmp.Web.Infrastructure.Persistence;
using StackExchange.Redis;

namespace Cmp.Web.Infrastructure.Redis;

/// <summary>
/// Tells the other processes about this one's writes to the tables the gateway caches, and hears theirs: each
/// moves its <see cref="WriteGeneration"/>, so a key revoked through one process is refused by every process on its
/// next call. While Redis cannot be reached, the cache lifetime (<c>Gateway__CacheSeconds</c>) bounds staleness as
/// it does without Redis.
/// </summary>
public sealed class WriteBroadcast(IConnectionMultiplexer redis, RedisNames names, WriteGeneration generation, ILogger<WriteBroadcast> logger)
    : BackgroundService
{
    private readonly string _me = Guid.NewGuid().ToString("N");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        generation.Bumped += Publish;
        // Subscribing needs a connection; keep trying until there is one (the library re-subscribes after a reconnect).
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await redis.GetSubscriber().SubscribeAsync(names.Writes, (_, message) =>
                {
                    if (message != _me)
                    {
                        generation.BumpFromPeer();
                    }
                });
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                logger.LogWarning("Cannot subscribe to {Channel} yet: {Error}", names.Writes, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }

    private void Publish()
    {
        try
        {
            redis.GetSubscriber().Publish(names.Writes, _me, CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Could not tell the other processes about a write: {Error}", ex.Message);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        generation.Bumped -= Publish;
        await base.StopAsync(cancellationToken);
    }
}
