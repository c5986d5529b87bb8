using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.Agents;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cmp.E2E.Infrastructure;

/// <summary>
/// The real CMP application on Kestrel at <c>http://127.0.0.1:{port}</c> (a browser cannot reach the in-memory
/// TestServer), over a fresh SQLite file, with the deterministic <c>dev</c> model.
/// </summary>
public sealed class CmpServer : WebApplicationFactory<Program>
{
    public const string StaffEmail = "staff@cmp.e2e";
    public const string StaffPassword = "Operator-Key-7c1e9f2a-e2e";

    private readonly string _database = Path.Combine(Path.GetTempPath(), $"cmp_e2e_{Guid.NewGuid():N}.db");

    private readonly IReadOnlyDictionary<string, string> _settings;

    public CmpServer(IReadOnlyDictionary<string, string>? settings = null)
    {
        _settings = settings ?? new Dictionary<string, string>();
        Port = FreePort();
        this.UseKestrel(o => o.Listen(IPAddress.Loopback, Port));
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Cmp", $"Data Source={_database}");
        builder.UseSetting("Database:Provider", "sqlite");
        builder.UseSetting("CMP_ADMIN_EMAIL", StaffEmail);
        builder.UseSetting("CMP_ADMIN_PASSWORD", StaffPassword);
        builder.UseSetting("Cmp:DemoData", "false");
        builder.UseSetting("RateLimits:AuthPerMinute", "100000");
        foreach (var (name, value) in _settings)
        {
            builder.UseSetting(name, value);
        }
        builder.ConfigureLogging(logging => logging.ClearProviders());
        builder.ConfigureTestServices(services => services.AddSingleton<IAgentRuntime>(sp =>
            new PacedRuntime(sp.GetRequiredService<BuiltinAgentRuntime>(), TimeSpan.FromMilliseconds(40))));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_database + suffix);
        }
    }
}

/// <summary>
/// The built-in runtime with its tokens paced as a real model's arrive (the dev model answers at once), so the
/// browser sees a reply grow and the typing indicator before it.
/// </summary>
public sealed class PacedRuntime(IAgentRuntime inner, TimeSpan pause) : IAgentRuntime
{
    public string Name => inner.Name;

    public Task<DeployResult> DeployAsync(AgentVersionContext version, CancellationToken ct) => inner.DeployAsync(version, ct);

    public async IAsyncEnumerable<FlowRunEvent> InvokeAsync(AgentVersionContext version, InvokeRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Delay(pause, ct);
        await foreach (var e in inner.InvokeAsync(version, request, ct))
        {
            if (e is FlowTokenEvent)
            {
                await Task.Delay(pause, ct);
            }
            yield return e;
        }
    }
}
