using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;

namespace Cmp.LoadGen;

/// <summary>One finished request: when it was due, when it was sent, when it answered, and how.</summary>
internal readonly record struct Sample(long Due, long Sent, long Done, int Status);

/// <summary>Sends the requests, open loop (fixed schedule) or closed loop (fixed number of workers).</summary>
public sealed class LoadRunner : IDisposable
{
    /// <summary>Status recorded for a request that failed without an HTTP answer.</summary>
    public const int Failed = 0;

    /// <summary>Status recorded for a request that ran out of time.</summary>
    public const int TimedOut = -1;

    private const int MaxErrorSamples = 3;

    private readonly LoadOptions _options;
    private readonly HttpClient _client;
    private readonly byte[][]? _bodies;
    private readonly ConcurrentQueue<string> _errorSamples = new();
    private long _answered;

    public LoadRunner(LoadOptions options)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(options.Connections, options.Concurrency),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(options.Timeout) };
        if (options.Body is { } body)
        {
            _bodies = Enumerable.Range(0, options.Variants)
                .Select(n => Encoding.UTF8.GetBytes(body.Replace("{n}", n.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)))
                .ToArray();
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// Open loop: request i is due at start + i / rate, whatever happened to the earlier ones. A dedicated
    /// thread sends each request when it is due; latency runs from the due time, so a late send (the
    /// generator or the server's queue being behind) counts against the server, as wrk2 does.
    /// </summary>
    public async Task<Summary> OpenLoopAsync()
    {
        var o = _options;
        var warmupCount = (long)Math.Round(o.Rate * o.Warmup);
        var total = warmupCount + (long)Math.Round(o.Rate * o.Duration);
        var interval = Stopwatch.Frequency / o.Rate;
        var samples = new Sample[total];
        var tasks = new Task[total];
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100;
        var dispatcher = new Thread(() =>
        {
            for (long i = 0; i < total; i++)
            {
                var due = start + (long)(i * interval);
                WaitUntil(due);
                tasks[i] = SendAsync(i, due, samples);
            }
        })
        { IsBackground = true, Name = "dispatcher", Priority = ThreadPriority.AboveNormal };
        dispatcher.Start();
        await Task.Run(dispatcher.Join);
        await Task.WhenAll(tasks);
        var measureStart = start + (long)(warmupCount * interval);
        return Summary.Of(o, "open", total, Interlocked.Read(ref _answered), samples.AsSpan((int)warmupCount), measureStart, ErrorSamples());
    }

    /// <summary>Closed loop: each worker sends its next request as soon as the previous one answered.</summary>
    public async Task<Summary> ClosedLoopAsync()
    {
        var o = _options;
        var measureStart = Stopwatch.GetTimestamp() + (long)(o.Warmup * Stopwatch.Frequency);
        var end = measureStart + (long)(o.Duration * Stopwatch.Frequency);
        long sequence = -1;
        long total = 0;
        var perWorker = await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(_ => Task.Run(async () =>
        {
            var mine = new List<Sample>();
            var one = new Sample[1];
            while (true)
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= end)
                {
                    break;
                }
                await SendAsync(0, now, one, Interlocked.Increment(ref sequence));
                Interlocked.Increment(ref total);
                if (now >= measureStart)
                {
                    mine.Add(one[0]);
                }
            }
            return mine;
        })));
        var samples = perWorker.SelectMany(s => s).ToArray();
        return Summary.Of(o, "closed", total, Interlocked.Read(ref _answered), samples, measureStart, ErrorSamples(), windowEnd: end);
    }

    private List<string> ErrorSamples() => [.. _errorSamples];

    private HttpRequestMessage Build(long n)
    {
        var request = new HttpRequestMessage(_options.Method, _options.Url)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (_bodies is not null)
        {
            request.Content = new ByteArrayContent(_bodies[n % _bodies.Length]);
        }
        foreach (var (name, value) in _options.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, value);
            }
        }
        if (request.Content is { Headers.ContentType: null } content)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        return request;
    }

    private async Task SendAsync(long index, long due, Sample[] samples, long? number = null)
    {
        var sent = Stopwatch.GetTimestamp();
        int status;
        try
        {
            using var request = Build(number ?? index);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            status = (int)response.StatusCode;
            if (status is >= 200 and <= 299)
            {
                Interlocked.Increment(ref _answered);
            }
            if (status is < 200 or > 299 && _errorSamples.Count < MaxErrorSamples)
            {
                var text = await response.Content.ReadAsStringAsync();
                _errorSamples.Enqueue($"{status}: {(text.Length > 400 ? text[..400] + "…" : text)}");
            }
        }
        catch (TaskCanceledException)
        {
            status = TimedOut;
        }
        catch (HttpRequestException ex)
        {
            status = Failed;
            if (_errorSamples.Count < MaxErrorSamples)
            {
                _errorSamples.Enqueue("no answer: " + ex.Message);
            }
        }
        samples[index] = new Sample(due, sent, Stopwatch.GetTimestamp(), status);
    }

    /// <summary>Sleeps until the timestamp with sub-millisecond precision (nanosleep on Linux) and no busy spin.</summary>
    private static void WaitUntil(long due)
    {
        while (true)
        {
            var left = due - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }
            var micros = left * 1_000_000 / Stopwatch.Frequency;
            if (OperatingSystem.IsLinux())
            {
                _ = usleep((uint)Math.Min(micros, 100_000));
            }
            else if (micros >= 1000)
            {
                Thread.Sleep((int)(micros / 1000));
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    // A plain DllImport: LibraryImport would need unsafe code for this one blittable call.
    [DllImport("libc", SetLastError = false)]
    private static extern int usleep(uint microseconds);
}
