using System.Globalization;
using Cmp.Web.Features.Gateway;
using StackExchange.Redis;

namespace Cmp.Web.Infrastructure.Redis;

/// <summary>
/// The gateway's per-key token bucket kept in Redis, so every process counts against the same bucket. One script
/// refills the bucket for the time passed (at exactly the limit a minute, on Redis's clock: the rule of
/// <see cref="KeyRateLimiter"/>) and takes a token, atomically. If Redis is not connected, or does not answer
/// within its short timeout (<see cref="RedisSetup"/>), the call is limited by this process's own bucket rather
/// than refused or held, and Redis is left alone for a few seconds: an outage of the counter neither stops nor
/// slows the buyers' agents.
/// </summary>
public sealed class RedisKeyRateLimiter(IConnectionMultiplexer redis, RedisNames names, KeyRateLimiter local, ILogger<RedisKeyRateLimiter> logger)
    : IKeyRateLimiter
{
    private const string Script = """
        redis.replicate_commands()
        local cap = tonumber(ARGV[1])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1])
        local at = tonumber(state[2])
        if tokens == nil or at == nil then
          tokens = cap
        else
          tokens = math.min(cap, tokens + math.max(0, now - at) * cap / 60000)
        end
        local allowed = 0
        if tokens >= 1 - 1e-9 then
          tokens = math.max(0, tokens - 1)
          allowed = 1
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], 120000)
        return { allowed, tostring(tokens) }
        """;

    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(5);

    private long _skipUntil;
    private long _lastWarning = Environment.TickCount64 - 60_000;

    public async ValueTask<RateDecision> AcquireAsync(string key, int perMinute)
    {
        if (redis.IsConnected && Environment.TickCount64 >= Interlocked.Read(ref _skipUntil))
        {
            try
            {
                var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Script, [names.RateBucket(key)], [perMinute]))!;
                return RateDecision.Of((int)result[0] == 1, perMinute, double.Parse((string)result[1]!, CultureInfo.InvariantCulture));
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Interlocked.Exchange(ref _skipUntil, Environment.TickCount64 + (long)Pause.TotalMilliseconds);
                Warn(ex.Message);
            }
        }
        else if (!redis.IsConnected)
        {
            Warn("not connected");
        }
        return await local.AcquireAsync(key, perMinute);
    }

    private void Warn(string error)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarning);
        if (now - last > 30_000 && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
        {
            logger.LogWarning("Redis cannot be reached for rate limits; each process counts on its own meanwhile: {Error}", error);
        }
    }
}
