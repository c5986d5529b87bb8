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
    /// <summary>KEYS: the buckets; ARGV: their rates a minute. Takes a token from every bucket only when each has one.</summary>
    private const string Script = """
        redis.replicate_commands()
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local tokens = {}
        local allowed = 1
        for i, key in ipairs(KEYS) do
          local cap = tonumber(ARGV[i])
          local state = redis.call('HMGET', key, 'tokens', 'at')
          local t = tonumber(state[1])
          local at = tonumber(state[2])
          if t == nil or at == nil then
            t = cap
          else
            t = math.min(cap, t + math.max(0, now - at) * cap / 60000)
          end
          if t < 1 - 1e-9 then
            allowed = 0
          end
          tokens[i] = t
        end
        local result = { allowed }
        for i, key in ipairs(KEYS) do
          local t = tokens[i]
          if allowed == 1 then
            t = math.max(0, t - 1)
          end
          redis.call('HSET', key, 'tokens', tostring(t), 'at', tostring(now))
          redis.call('PEXPIRE', key, 120000)
          result[i + 1] = tostring(t)
        end
        return result
        """;

    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(5);

    private long _skipUntil;
    private long _lastWarning = Environment.TickCount64 - 60_000;

    public ValueTask<RateDecision> AcquireAsync(string key, int perMinute) => AcquireAsync([new RateBucket(key, perMinute)]);

    public async ValueTask<RateDecision> AcquireAsync(IReadOnlyList<RateBucket> buckets)
    {
        if (redis.IsConnected && Environment.TickCount64 >= Interlocked.Read(ref _skipUntil))
        {
            try
            {
                var keys = new RedisKey[buckets.Count];
                var rates = new RedisValue[buckets.Count];
                for (var i = 0; i < buckets.Count; i++)
                {
                    keys[i] = names.RateBucket(buckets[i].Key);
                    rates[i] = buckets[i].PerMinute;
                }
                var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Script, keys, rates))!;
                return RateDecision.Tightest((int)result[0] == 1,
                    buckets.Select((b, i) => (b.PerMinute, double.Parse((string)result[i + 1]!, CultureInfo.InvariantCulture))));
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
        return await local.AcquireAsync(buckets);
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
