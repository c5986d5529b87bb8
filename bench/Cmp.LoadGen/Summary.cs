using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Cmp.LoadGen;

/// <summary>The figures of one run. Latencies are in milliseconds.</summary>
public sealed record Summary(
    string Label,
    string Mode,
    double TargetRate,
    int Connections,
    int Concurrency,
    double Duration,
    double Warmup,
    long Total,
    long TotalOk,
    long Count,
    long Ok,
    long Errors,
    double ErrorPercent,
    double Rate,
    double P50,
    double P90,
    double P99,
    double Max,
    double Mean,
    double SendLagP50,
    double SendLagP99,
    IReadOnlyDictionary<string, long> Statuses,
    IReadOnlyList<string> ErrorSamples,
    double SlowMs,
    long Slow,
    int SlowSeconds,
    IReadOnlyList<string> WorstSeconds,
    double ClientCpuMs = 0)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    internal static Summary Of(LoadOptions o, string mode, long total, long totalOk, ReadOnlySpan<Sample> samples, long measureStart, List<string> errorSamples, long? windowEnd = null)
    {
        static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var latencies = new double[samples.Length];
        var lags = new double[samples.Length];
        var statuses = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long ok = 0;
        var lastDone = measureStart;
        var slowBySecond = new SortedDictionary<long, int>();
        long slow = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var s = samples[i];
            latencies[i] = Ms(s.Done - s.Due);
            lags[i] = Ms(s.Sent - s.Due);
            lastDone = Math.Max(lastDone, s.Done);
            if (latencies[i] > o.SlowMs)
            {
                slow++;
                var second = (s.Due - measureStart) / Stopwatch.Frequency;
                slowBySecond[second] = slowBySecond.GetValueOrDefault(second) + 1;
            }
            var key = s.Status switch
            {
                LoadRunner.Failed => "failed",
                LoadRunner.TimedOut => "timeout",
                var code => code.ToString(CultureInfo.InvariantCulture),
            };
            statuses[key] = statuses.GetValueOrDefault(key) + 1;
            if (s.Status is >= 200 and <= 299)
            {
                ok++;
            }
        }
        Array.Sort(latencies);
        Array.Sort(lags);
        // Open loop: the window ends with the last answer, so a server that falls behind shows a lower rate.
        var seconds = Ms((windowEnd ?? lastDone) - measureStart) / 1000.0;
        var count = samples.Length;
        return new Summary(
            o.Label, mode, o.Rate, Math.Max(o.Connections, o.Concurrency), o.Concurrency, o.Duration, o.Warmup,
            total, totalOk, count, ok, count - ok, count == 0 ? 0 : 100.0 * (count - ok) / count,
            seconds > 0 ? ok / seconds : 0,
            Percentile(latencies, 50), Percentile(latencies, 90), Percentile(latencies, 99), count == 0 ? 0 : latencies[^1],
            count == 0 ? 0 : latencies.Average(),
            Percentile(lags, 50), Percentile(lags, 99),
            statuses, errorSamples, o.SlowMs, slow, slowBySecond.Count,
            [.. slowBySecond.OrderByDescending(kv => kv.Value).Take(5).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}s:{kv.Value}"))]);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    public void Print(TextWriter w)
    {
        var c = CultureInfo.InvariantCulture;
        var shape = Mode == "open"
            ? string.Create(c, $"open loop, {TargetRate:0.#} req/s for {Duration:0.#} s after {Warmup:0.#} s warmup, up to {Connections} connections")
            : string.Create(c, $"closed loop, {Concurrency} workers for {Duration:0.#} s after {Warmup:0.#} s warmup");
        w.WriteLine(string.IsNullOrEmpty(Label) ? shape : $"{Label}: {shape}");
        w.WriteLine(string.Create(c, $"  requests   {Count} measured, {Ok} 2xx, {Errors} errors ({ErrorPercent:0.##} %); with warmup {Total} sent, {TotalOk} 2xx"));
        w.WriteLine(string.Create(c, $"  rate       {Rate:0.0} req/s (2xx answers per second)"));
        w.WriteLine(string.Create(c, $"  latency    p50 {P50:0.000} ms  p90 {P90:0.000} ms  p99 {P99:0.000} ms  max {Max:0.000} ms  mean {Mean:0.000} ms"));
        if (Mode == "open")
        {
            w.WriteLine(string.Create(c, $"  send lag   p50 {SendLagP50:0.000} ms  p99 {SendLagP99:0.000} ms (sent after the due time; included in latency)"));
        }
        w.WriteLine(string.Create(c, $"  slow       {Slow} over {SlowMs:0.#} ms, due in {SlowSeconds} distinct seconds; most: {string.Join(" ", WorstSeconds)}"));
        w.WriteLine("  status     " + string.Join("  ", Statuses.Select(s => $"{s.Key}: {s.Value}")));
        w.WriteLine(string.Create(c, $"  generator  {ClientCpuMs:0} ms CPU in this process"));
        foreach (var sample in ErrorSamples)
        {
            w.WriteLine("  sample     " + sample.ReplaceLineEndings(" "));
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
