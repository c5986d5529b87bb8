using System.Collections.Concurrent;
using System.Globalization;

namespace Cmp.Web.Features.Gateway;

/// <summary>What the rate limiter decided for one call, and the headers that tell the caller.</summary>
public readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, int ResetSeconds, int RetryAfterSeconds)
{
    /// <summary>A decision from a bucket's tokens after the call: what is left, when it is full again, when a token comes back.</summary>
    public static RateDecision Of(bool allowed, int perMinute, double tokens)
    {
        var perSecond = perMinute / 60.0;
        return new RateDecision(allowed, perMinute, (int)Math.Floor(tokens + Slack), Math.Max(0, (int)Math.Ceiling((perMinute - tokens) / perSecond - Slack)),
            allowed ? 0 : Math.Max(1, (int)Math.Ceiling((1 - tokens) / perSecond - Slack)));
    }

    /// <summary>What floating-point arithmetic may lose when time is turned into tokens: a token this short of whole counts as whole.</summary>
    public const double Slack = 1e-9;

    /// <summary><c>RateLimit-Limit</c> (a minute), <c>RateLimit-Remaining</c> (now), <c>RateLimit-Reset</c> (seconds until the bucket is full), and <c>Retry-After</c> on a refusal.</summary>
    public void WriteHeaders(HttpContext ctx)
    {
        var headers = ctx.Response.Headers;
        headers["RateLimit-Limit"] = Limit.ToString(CultureInfo.InvariantCulture);
        headers["RateLimit-Remaining"] = Remaining.ToString(CultureInfo.InvariantCulture);
        headers["RateLimit-Reset"] = ResetSeconds.ToString(CultureInfo.InvariantCulture);
        if (!Allowed)
        {
            headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }
    }
}

/// <summary>The gateway's per-key limit: this process's buckets (<see cref="KeyRateLimiter"/>), or with Redis one bucket shared by every process.</summary>
public interface IKeyRateLimiter
{
    ValueTask<RateDecision> AcquireAsync(string key, int perMinute);
}

/// <summary>
/// A token bucket per key (default 60 requests a minute) in this process. A bucket holds a minute's requests and is
/// refilled for the time passed whenever it is used, at exactly the limit (the same rule as the Redis script, so
/// both behave alike): no timers, and a bucket left alone for a minute is full, so idle ones are dropped.
/// </summary>
public sealed class KeyRateLimiter(TimeProvider time) : IKeyRateLimiter
{
    private sealed class Bucket(double tokens, long at)
    {
        public double Tokens = tokens;
        public long At = at;
    }

    private readonly ConcurrentDictionary<(string Key, int PerMinute), Bucket> _buckets = new();
    private long _lastSweep = time.GetTimestamp();

    public ValueTask<RateDecision> AcquireAsync(string key, int perMinute)
    {
        var now = time.GetTimestamp();
        var bucket = _buckets.GetOrAdd((key, perMinute), _ => new Bucket(perMinute, now));
        RateDecision decision;
        lock (bucket)
        {
            var elapsed = Math.Max(0, time.GetElapsedTime(bucket.At, now).TotalMinutes);
            bucket.Tokens = Math.Min(perMinute, bucket.Tokens + elapsed * perMinute);
            bucket.At = now;
            var allowed = bucket.Tokens >= 1 - RateDecision.Slack;
            if (allowed)
            {
                bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
            }
            decision = RateDecision.Of(allowed, perMinute, bucket.Tokens);
        }
        Sweep(now);
        return ValueTask.FromResult(decision);
    }

    /// <summary>At most once a minute, drops the buckets unused for a minute (they would be full again anyway).</summary>
    private void Sweep(long now)
    {
        var last = Interlocked.Read(ref _lastSweep);
        if (time.GetElapsedTime(last, now) < TimeSpan.FromMinutes(1) || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }
        foreach (var (key, bucket) in _buckets)
        {
            if (time.GetElapsedTime(Volatile.Read(ref bucket.At), now) > TimeSpan.FromMinutes(1))
            {
                _buckets.TryRemove(KeyValuePair.Create(key, bucket));
            }
        }
    }

    internal int Count => _buckets.Count;
}
