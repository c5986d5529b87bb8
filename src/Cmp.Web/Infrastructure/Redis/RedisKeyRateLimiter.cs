using Cmp.Web.Features.Gateway;
using StackExchange.Redis;

namespace Cmp.Web.Infrastructure.Redis;

/// <summary>
/// The gateway's per-key token bucket kept in Redis, so every process counts against the same bucket. One script
/// refills the bucket for the time passed (at exactly the limit a minute, on Redis's clock) and takes a token,
/// atomically. If Redis cannot be reached the call is limited by this process's own bucket (<see cref="KeyRateLimiter"/>)
/// rather than refused: an outage of the counter does not stop the buyers' agents.
/// </summary>
public sealed class RedisKeyRateLimiter(IConnectionMultiplexer redis, RedisNames names, KeyRateLimiter local, ILogger<RedisKeyRateLimiter> logger)
    : IKeyRateLimiter
{
    private const string Script = """
        local cap = tonumber(ARGV[1])
        local rate = cap / 60000
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1])
        local at = tonumber(state[2])
        if tokens == nil or at == nil then
          tokens = cap
        else
          tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
        end
        local allowed = 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], 120000)
        local retry = 0
        if allowed == 0 then
          retry = math.ceil((1 - tokens) / rate / 1000)
        end
        return { allowed, math.floor(tokens), math.ceil((cap - tokens) / rate / 1000), retry }
        """;

    private long _lastWarning;

    public async ValueTask<RateDecision> AcquireAsync(string key, int perMinute)
    {
        try
        {
            var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Script, [names.RateBucket(key)], [perMinute]))!;
            var allowed = (int)result[0] == 1;
            return new RateDecision(allowed, perMinute, (int)result[1], Math.Max(allowed ? 0 : 1, (int)result[2]), allowed ? 0 : Math.Max(1, (int)result[3]));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref _lastWarning);
            if (now - last > 30_000 && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
            {
                logger.LogWarning("Redis cannot be reached for rate limits; each process counts on its own meanwhile: {Error}", ex.Message);
            }
            return await local.AcquireAsync(key, perMinute);
        }
    }
}
