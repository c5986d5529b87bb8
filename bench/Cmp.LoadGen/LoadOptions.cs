using System.Globalization;
using System.Text;

namespace Cmp.LoadGen;

/// <summary>The command line of the load generator.</summary>
public sealed class LoadOptions
{
    public const string Usage = """
        Cmp.LoadGen: an HTTP/1.1 load generator for loopback benchmarks.

        Open loop (constant rate; latency is measured from each request's scheduled send time,
        so queueing counts and coordinated omission is avoided):
          --url URL --rate N [--duration S] [--warmup S] [--connections N]

        Closed loop (N workers, each sends its next request when the previous one answered;
        finds the highest sustained throughput):
          --url URL --concurrency N [--duration S] [--warmup S]

        Common:
          --method M          GET, or POST when a body is given
          --header 'N: V'     repeatable; Content-Type defaults to application/json with a body
          --body TEXT|@FILE   request body; '{n}' in it becomes the request number modulo --variants
          --variants N        how many distinct bodies '{n}' cycles through (default 1)
          --timeout S         per request (default 10); a timeout counts as an error
          --label TEXT        printed with the results
          --json              also print the results as one JSON line (prefixed 'json: ')
        """;

    private readonly List<KeyValuePair<string, string>> _headers = [];

    public Uri Url { get; private set; } = null!;

    public HttpMethod Method { get; private set; } = HttpMethod.Get;

    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    public string? Body { get; private set; }

    public int Variants { get; private set; } = 1;

    public double Rate { get; private set; }

    public double Duration { get; private set; } = 10;

    public double Warmup { get; private set; }

    public int Connections { get; private set; } = 32;

    public int Concurrency { get; private set; }

    public double Timeout { get; private set; } = 10;

    /// <summary>Requests slower than this (ms) are counted, and the seconds they fall in are listed.</summary>
    public double SlowMs { get; private set; } = 10;

    public string Label { get; private set; } = "";

    public bool Json { get; private set; }

    public bool Help { get; private set; }

    public bool ClosedLoop => Concurrency > 0;

    /// <summary>Reads the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var o = new LoadOptions();
        string? method = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"{name} needs a value.");
                }
                return args[++i];
            }
            switch (name)
            {
                case "--url":
                    o.Url = Uri.TryCreate(Value(), UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
                        ? url
                        : throw new ArgumentException("--url must be an absolute http(s) URL.");
                    break;
                case "--method":
                    method = Value().ToUpperInvariant();
                    break;
                case "--header":
                    var header = Value();
                    var colon = header.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0)
                    {
                        throw new ArgumentException($"--header '{header}' is not 'Name: value'.");
                    }
                    o._headers.Add(new(header[..colon].Trim(), header[(colon + 1)..].Trim()));
                    break;
                case "--body":
                    var body = Value();
                    o.Body = body.StartsWith('@') ? File.ReadAllText(body[1..], Encoding.UTF8) : body;
                    break;
                case "--variants":
                    o.Variants = PositiveInt(name, Value());
                    break;
                case "--rate":
                    o.Rate = Positive(name, Value());
                    break;
                case "--duration":
                    o.Duration = Positive(name, Value());
                    break;
                case "--warmup":
                    o.Warmup = NonNegative(name, Value());
                    break;
                case "--connections":
                    o.Connections = PositiveInt(name, Value());
                    break;
                case "--concurrency":
                    o.Concurrency = PositiveInt(name, Value());
                    break;
                case "--timeout":
                    o.Timeout = Positive(name, Value());
                    break;
                case "--slow-ms":
                    o.SlowMs = Positive(name, Value());
                    break;
                case "--label":
                    o.Label = Value();
                    break;
                case "--json":
                    o.Json = true;
                    break;
                case "-h" or "--help":
                    o.Help = true;
                    return o;
                default:
                    throw new ArgumentException($"Unknown option {name}.");
            }
        }
        if (o.Url is null)
        {
            throw new ArgumentException("--url is required.");
        }
        if (o.Rate > 0 == o.ClosedLoop)
        {
            throw new ArgumentException("Give either --rate (open loop) or --concurrency (closed loop).");
        }
        o.Method = new HttpMethod(method ?? (o.Body is null ? "GET" : "POST"));
        return o;
    }

    private static double Positive(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0
            ? d
            : throw new ArgumentException($"{name} must be a number above 0.");

    private static double NonNegative(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= 0
            ? d
            : throw new ArgumentException($"{name} must be a number, 0 or more.");

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a whole number above 0.");
}
