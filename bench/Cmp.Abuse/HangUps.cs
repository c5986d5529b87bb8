using System.Diagnostics;

namespace Cmp.Abuse;

/// <summary>When a call's client leaves: never, as soon as the headers arrived, or right after token <see cref="CallPlan.AfterTokens"/>.</summary>
public enum HangUp
{
    Never,
    AfterHeaders,
    AfterToken,
}

public sealed record CallPlan(int Number, string Session, int Server, HangUp HangUp, int AfterTokens);

/// <summary>
/// One call as the client saw it. <see cref="Started"/>: the 200 headers arrived, so the server had reserved and
/// opened the stream (its run started). <see cref="SawEnd"/>: the client read <c>event: end</c>. <see cref="HungUpAt"/>:
/// when the client closed the connection (Unix seconds, this machine's clock), to compare with the usage record's time.
/// </summary>
public sealed record CallOutcome(int Number, string Session, string Server, string Plan, int AfterTokens, int Status,
    bool Started, int TokensRead, bool SawEnd, bool HungUp, double? HungUpAt, string? Error);

public sealed record HangUpResult(
    int Calls, int Seed, int Tokens, int Concurrency,
    int PlannedNever, int PlannedAfterHeaders, int PlannedAfterToken,
    int Started, int NotStarted, SortedDictionary<string, int> NotStartedAnswers,
    int ReadToEnd, int HungUp, int HungUpBeforeFirstToken, int HungUpMidStream, int HungUpAfterLastToken,
    int ReadToEndTokenMismatch, int StreamErrors, double ElapsedMs);

/// <summary>Streamed calls whose clients hang up at seeded random points; what it prints is compared with the usage records.</summary>
public static class HangUps
{
    public static async Task<HangUpResult> RunAsync(HttpClient client, Options o)
    {
        // The plans are drawn before any call, in order, so a seed gives the same plans whatever the timing.
        var random = new Random(o.Seed);
        var plans = Enumerable.Range(0, o.Calls).Select(n =>
        {
            var r = random.NextDouble();
            var (hangUp, after) = r < 0.2 ? (HangUp.Never, 0) : r < 0.4 ? (HangUp.AfterHeaders, 0) : (HangUp.AfterToken, random.Next(1, o.Tokens + 1));
            return new CallPlan(n, $"{o.SessionPrefix}-{n}", n % o.Urls.Count, hangUp, after);
        }).ToList();

        var outcomes = new CallOutcome[o.Calls];
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(o.Concurrency, o.Calls)).Select(_ => Task.Run(async () =>
        {
            for (var n = Interlocked.Increment(ref next); n < o.Calls; n = Interlocked.Increment(ref next))
            {
                outcomes[n] = await CallAsync(client, o, plans[n]);
            }
        })));
        var elapsed = clock.Elapsed.TotalMilliseconds;

        if (o.Log is { } log)
        {
            await File.WriteAllLinesAsync(log, outcomes.Select(Gateway.Json));
        }
        var started = outcomes.Where(c => c.Started).ToList();
        var hungUp = started.Where(c => c.HungUp).ToList();
        var notStarted = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in outcomes.Where(c => !c.Started))
        {
            var answer = c.Error ?? c.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            notStarted[answer] = notStarted.GetValueOrDefault(answer) + 1;
        }
        return new HangUpResult(
            o.Calls, o.Seed, o.Tokens, o.Concurrency,
            plans.Count(p => p.HangUp == HangUp.Never), plans.Count(p => p.HangUp == HangUp.AfterHeaders), plans.Count(p => p.HangUp == HangUp.AfterToken),
            started.Count, o.Calls - started.Count, notStarted,
            started.Count(c => c.SawEnd), hungUp.Count,
            hungUp.Count(c => c.TokensRead == 0), hungUp.Count(c => c.TokensRead > 0 && c.TokensRead < o.Tokens), hungUp.Count(c => c.TokensRead >= o.Tokens),
            started.Count(c => c.SawEnd && c.TokensRead != o.Tokens), started.Count(c => c.Error is not null),
            Math.Round(elapsed, 1));
    }

    private static async Task<CallOutcome> CallAsync(HttpClient client, Options o, CallPlan plan)
    {
        var server = o.Urls[plan.Server];
        var status = 0;
        var started = false;
        var tokens = 0;
        var end = false;
        double? hungUpAt = null;
        string? error = null;
        try
        {
            using var request = Gateway.Invoke(server, o.Key, o.Input, plan.Session, stream: true);
            // Disposing this response before its end closes the connection: that is the hang-up.
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            status = (int)response.StatusCode;
            started = status == 200;
            if (!started)
            {
                error = $"{status} {Gateway.ProblemType(await response.Content.ReadAsStringAsync())}";
            }
            else if (plan.HangUp == HangUp.AfterHeaders)
            {
                hungUpAt = Now();
            }
            else
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                string? eventName = null;
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.StartsWith("event: ", StringComparison.Ordinal))
                    {
                        eventName = line[7..];
                    }
                    else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        if (eventName == "token" && ++tokens == plan.AfterTokens && plan.HangUp == HangUp.AfterToken)
                        {
                            hungUpAt = Now();
                            break;
                        }
                        end |= eventName == "end";
                        if (eventName == "error")
                        {
                            error = line[6..];
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
        {
            error ??= $"{ex.GetType().Name}: {ex.Message}";
        }
        return new CallOutcome(plan.Number, plan.Session, server.ToString(), plan.HangUp.ToString(), plan.AfterTokens, status,
            started, tokens, end, started && !end, hungUpAt, error);
    }

    private static double Now() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;
}
