using Cmp.Web.Features.Gateway;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace Cmp.Web.Infrastructure.Redis;

/// <summary>
/// Optional Redis (<c>Redis__Configuration</c>, e.g. <c>127.0.0.1:6379</c>, in StackExchange.Redis syntax): with it,
/// several Cmp.Web processes behind one load balancer act as one. The gateway's per-key rate limits are counted in
/// Redis (<see cref="RedisKeyRateLimiter"/>), and a write that voids the gateway's cache in one process voids it in
/// the others at once (<see cref="WriteBroadcast"/>) instead of within <c>Gateway__CacheSeconds</c>. Widget session
/// tokens need nothing more: the Data Protection keys that sign them are kept in the database. Without Redis each
/// process counts and caches on its own. Keys and the channel start with <c>Redis__Prefix</c> (default <c>cmp:</c>).
/// </summary>
public static class RedisSetup
{
    public static IServiceCollection AddRedis(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration["Redis:Configuration"] is not { Length: > 0 } setting)
        {
            return services;
        }
        var options = ConfigurationOptions.Parse(setting);
        options.AbortOnConnectFail = false; // start even while Redis is down; it connects in the background
        options.ClientName ??= "cmp-web";
        // A gateway call must not wait for a Redis that is gone or hung: commands fail at once while disconnected,
        // and after 250 ms otherwise (unless the setting says more); the callers then fall back to this process.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        if (!setting.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
        {
            options.AsyncTimeout = 250;
        }
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(options));
        services.AddSingleton(new RedisNames(configuration["Redis:Prefix"] is { Length: > 0 } prefix ? prefix : "cmp:"));
        services.Replace(ServiceDescriptor.Singleton<IKeyRateLimiter, RedisKeyRateLimiter>());
        services.AddHostedService<WriteBroadcast>();
        return services;
    }
}

/// <summary>The names this installation uses in a Redis server it may share with others.</summary>
public sealed record RedisNames(string Prefix)
{
    public RedisChannel Writes => RedisChannel.Literal(Prefix + "writes");

    public RedisKey RateBucket(string key) => Prefix + "rate:" + key;
}
