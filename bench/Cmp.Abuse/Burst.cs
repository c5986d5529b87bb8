using System.Diagnostics;

namespace Cmp.Abuse;

public sealed record BurstServer(string Url, int Calls, int Ok, int LimitReached);

public sealed record BurstResult(int Calls, int Ok, int LimitReached, SortedDictionary<string, int> Answers, List<BurstServer> Servers, double ElapsedMs);

/// <summary>Every call at once against a capped plan: the gateway must accept exactly the cap and refuse the rest with limit-reached.</summary>
public static class Burst
{
    public const string LimitReached = "/problems/limit-reached";

    public static async Task<BurstResult> RunAsync(HttpClient client, Options o)
    {
        Uri Server(int n) => o.Urls[n % o.Urls.Count];

        // Opens the connections (as many as the calls, if the server keeps up) so the calls below do not wait for them.
        await Task.WhenAll(Enumerable.Range(0, o.Calls).Select(async n =>
        {
            using var response = await client.GetAsync(new Uri(Server(n), "/health/live"));
        }));

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, o.Calls).Select(async n =>
        {
            await start.Task;
            using var request = Gateway.Invoke(Server(n), o.Key, $"Burst call {n}", $"{o.SessionPrefix}-{n}", stream: false);
            using var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            var type = status == 200 ? null : Gateway.ProblemType(await response.Content.ReadAsStringAsync());
            return (Server: n % o.Urls.Count, Answer: type is null ? $"{status}" : $"{status} {type}");
        }).ToList();
        var clock = Stopwatch.StartNew();
        start.SetResult();
        var answers = await Task.WhenAll(calls);
        var elapsed = clock.Elapsed.TotalMilliseconds;

        const string Refused = "429 " + LimitReached;
        var servers = o.Urls.Select((url, s) =>
        {
            var mine = answers.Where(a => a.Server == s).ToList();
            return new BurstServer(url.ToString(), mine.Count, mine.Count(a => a.Answer == "200"), mine.Count(a => a.Answer == Refused));
        }).ToList();
        var byAnswer = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var a in answers)
        {
            byAnswer[a.Answer] = byAnswer.GetValueOrDefault(a.Answer) + 1;
        }
        return new BurstResult(o.Calls, byAnswer.GetValueOrDefault("200"), byAnswer.GetValueOrDefault(Refused), byAnswer, servers, Math.Round(elapsed, 1));
    }
}
