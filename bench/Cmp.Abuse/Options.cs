using System.Globalization;
using System.Text;

namespace Cmp.Abuse;

/// <summary>The command line of the abuse runner.</summary>
public sealed class Options
{
    public const string Usage = """
        Cmp.Abuse: parallel abuse of the agent gateway's money rules, from a second process.

          burst  --url BASE [--url BASE2 …] --key KEY [--calls 200] [--session-prefix P]
              All calls at once (after opening the connections with GET /health/live), JSON, round-robin
              over the servers. Prints the statuses and problem types as one JSON line.

          hangup --url BASE [--url BASE2 …] --key KEY --tokens T [--calls 1000] [--concurrency 48] [--seed 1]
                 [--input TEXT|@FILE] [--log FILE] [--session-prefix P]
              Streamed calls ("stream": true), each with its own session id P-<n>. A call's plan is drawn from
              the seed before the run: 20 % read to the end; 20 % hang up as soon as the 200 headers arrive
              (before the first token); 60 % hang up right after token k, k uniform in 1..T (T: the answer's
              token count; k = T hangs up after the last token, before "event: end"). A hang-up closes the
              connection (nothing is drained). Prints the counts as one JSON line; --log writes one JSON
              line per call.

        BASE is the server's root, e.g. http://127.0.0.1:5000.
        """;

    public required string Command { get; init; }

    public List<Uri> Urls { get; } = [];

    public string Key { get; private set; } = "";

    public int Calls { get; private set; }

    public int Concurrency { get; private set; } = 48;

    public int Seed { get; private set; } = 1;

    public int Tokens { get; private set; }

    public string Input { get; private set; } = "Hello";

    public string? Log { get; private set; }

    public string SessionPrefix { get; private set; } = "abuse";

    /// <summary>Reads the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static Options Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] is not ("burst" or "hangup"))
        {
            throw new ArgumentException("The first argument is the command: burst or hangup.");
        }
        var o = new Options { Command = args[0] };
        o.Calls = o.Command == "burst" ? 200 : 1000;
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            switch (name)
            {
                case "--url":
                    o.Urls.Add(Uri.TryCreate(Value(), UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
                        ? url
                        : throw new ArgumentException("--url must be an absolute http(s) URL."));
                    break;
                case "--key":
                    o.Key = Value();
                    break;
                case "--calls":
                    o.Calls = PositiveInt(name, Value());
                    break;
                case "--concurrency":
                    o.Concurrency = PositiveInt(name, Value());
                    break;
                case "--seed":
                    o.Seed = int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
                        ? seed
                        : throw new ArgumentException("--seed must be a whole number.");
                    break;
                case "--tokens":
                    o.Tokens = PositiveInt(name, Value());
                    break;
                case "--input":
                    var input = Value();
                    o.Input = input.StartsWith('@') ? File.ReadAllText(input[1..], Encoding.UTF8) : input;
                    break;
                case "--log":
                    o.Log = Value();
                    break;
                case "--session-prefix":
                    o.SessionPrefix = Value();
                    break;
                default:
                    throw new ArgumentException($"Unknown option {name}.");
            }
        }
        if (o.Urls.Count == 0 || o.Key.Length == 0)
        {
            throw new ArgumentException("--url and --key are required.");
        }
        if (o.Command == "hangup" && o.Tokens == 0)
        {
            throw new ArgumentException("hangup needs --tokens (the answer's token count).");
        }
        return o;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a whole number above 0.");
}
