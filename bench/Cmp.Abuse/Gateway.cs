using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Cmp.Abuse;

/// <summary>What both commands share: the HTTP client, the invoke request, and the JSON they print.</summary>
public static class Gateway
{
    private static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// HTTP/1.1, one connection per call in flight. A response disposed before its end closes its connection:
    /// nothing is drained (<see cref="SocketsHttpHandler.MaxResponseDrainSize"/> 0), so a hang-up is a real one.
    /// </summary>
    public static HttpClient Client(int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        MaxResponseDrainSize = 0,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        Timeout = TimeSpan.FromSeconds(120),
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static HttpRequestMessage Invoke(Uri server, string key, string input, string session, bool stream)
    {
        var body = JsonSerializer.Serialize(new { input, session_id = session, stream });
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "/api/agent-gateway/invoke/"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    /// <summary>The <c>type</c> of a problem answer, or null.</summary>
    public static string? ProblemType(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out var type) ? type.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string Json<T>(T value) => JsonSerializer.Serialize(value, Snake);
}
