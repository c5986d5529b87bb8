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

    /// <summary>
    /// The decision over several buckets: a refusal reports the bucket that is empty longest (its Retry-After), an
    /// acceptance the bucket with the fewest requests left.
    /// </summary>
    public static RateDecision Tightest(bool allowed, IEnumerable<(int PerMinute, double Tokens)> buckets)
    {
        var each = buckets.Select(b => Of(allowed || b.Tokens >= 1 - Slack, b.PerMinute, b.Tokens)).ToList();
        var tightest = allowed ? each.MinBy(d => d.Remaining) : each.Where(d => !d.Allowed).MaxBy(d => d.RetryAfterSeconds);
        return tightest with { Allowed = allowed };
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

/// <summary>One token bucket a call draws from: its name and its rate a minute.</summary>
public readonly record struct RateBucket(string Key, int PerMinute);

/// <summary>
/// The gateway's rate limits: this process's buckets (<see cref="KeyRateLimiter"/>), or with Redis buckets shared by
/// every process. A call draws from several buckets at once (its key, its resource, its widget visitor) and takes a
/// token from each only when all of them have one, so a refusal costs the other buckets nothing.
/// </summary>
public interface IKeyRateLimiter
{
    ValueTask<RateDecision> AcquireAsync(IReadOnlyList<RateBucket> buckets);

    ValueTask<RateDecision> AcquireAsync(string key, int perMinute) => AcquireAsync([new RateBucket(key, perMinute)]);
}

/// <summary>
/// Token buckets (default 60 requests a minute) in this process. A bucket holds a minute's requests and is
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

    public ValueTask<RateDecision> AcquireAsync(string key, int perMinute) => AcquireAsync([new RateBucket(key, perMinute)]);

    public ValueTask<RateDecision> AcquireAsync(IReadOnlyList<RateBucket> wanted)
    {
        var now = time.GetTimestamp();
        // Locks are taken in one order (by name), so two calls sharing buckets never wait for each other in a circle.
        var ordered = wanted.Count == 1 ? wanted : wanted.OrderBy(b => b.Key, StringComparer.Ordinal).ToArray();
        var buckets = new Bucket[ordered.Count];
        for (var i = 0; i < ordered.Count; i++)
        {
            var (key, perMinute) = ordered[i];
            buckets[i] = _buckets.GetOrAdd((key, perMinute), _ => new Bucket(perMinute, now));
        }
        var decision = Take(ordered, buckets, 0, now);
        Sweep(now);
        return ValueTask.FromResult(decision);
    }

    private RateDecision Take(IReadOnlyList<RateBucket> wanted, Bucket[] buckets, int index, long now)
    {
        if (index < buckets.Length)
        {
            lock (buckets[index])
            {
                return Take(wanted, buckets, index + 1, now);
            }
        }
        var allowed = true;
        for (var i = 0; i < buckets.Length; i++)
        {
            var bucket = buckets[i];
            var perMinute = wanted[i].PerMinute;
            var elapsed = Math.Max(0, time.GetElapsedTime(bucket.At, now).TotalMinutes);
            bucket.Tokens = Math.Min(perMinute, bucket.Tokens + elapsed * perMinute);
            bucket.At = now;
            allowed &= bucket.Tokens >= 1 - RateDecision.Slack;
        }
        if (allowed)
        {
            foreach (var bucket in buckets)
            {
                bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
            }
        }
        return RateDecision.Tightest(allowed, wanted.Select((b, i) => (b.PerMinute, buckets[i].Tokens)));
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
