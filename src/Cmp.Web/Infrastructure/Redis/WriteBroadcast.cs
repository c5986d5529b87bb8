using System.Threading.Channels;
using Cmp.Web.Infrastructure.Persistence;
using StackExchange.Redis;

namespace Cmp.Web.Infrastructure.Redis;

/// <summary>
/// Tells the other processes about this one's writes to the tables the gateway caches, and hears theirs: each
/// moves its <see cref="WriteGeneration"/>, so a key revoked through one process is refused by every process on its
/// next call. A write only raises a flag (the database interceptor never waits for Redis nor fails because of it);
/// this service publishes once per burst of writes, always after the last one. While Redis cannot be reached, the
/// cache lifetime (<c>Gateway__CacheSeconds</c>) bounds staleness as it does without Redis.
/// </summary>
public sealed class WriteBroadcast(IConnectionMultiplexer redis, RedisNames names, WriteGeneration generation, ILogger<WriteBroadcast> logger)
    : BackgroundService
{
    private readonly string _me = Guid.NewGuid().ToString("N");

    /// <summary>Holds at most one pending "tell the others": writes while a publish is on its way make one more, not many.</summary>
    private readonly Channel<bool> _pending = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        generation.Bumped += Raise;
        try
        {
            await SubscribeAsync(stoppingToken);
            await foreach (var _ in _pending.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await redis.GetSubscriber().PublishAsync(names.Writes, _me);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning("Could not tell the other processes about a write: {Error}", ex.Message);
                }
            }
        }
        finally
        {
            generation.Bumped -= Raise;
        }
    }

    private void Raise() => _pending.Writer.TryWrite(true);

    /// <summary>Subscribing needs a connection: keeps trying until there is one (the library re-subscribes after a reconnect).</summary>
    private async Task SubscribeAsync(CancellationToken stoppingToken)
    {
        while (true)
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
}
