using Cmp.Web.Features.Gateway;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Cmp.Web.Tests.Gateway;

/// <summary>
/// The gateway cache against writes it cannot see: another server process's. Such a write is simulated with
/// <see cref="WriteWatchInterceptor.Unwatched"/>, and the cache's clock is a fake one moved by hand, so the lifetime
/// (<c>Gateway:CacheSeconds</c>, 10 s) is crossed without waiting, and the background refresh is awaited, not polled.
/// </summary>
public sealed class CacheLifetimeTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private Task SetPromptElsewhereAsync(string configUuid, string prompt)
    {
        var id = Guid.ParseExact(configUuid, "N");
        using (WriteWatchInterceptor.Unwatched())
        {
            return factory.WithDbAsync(db => db.AgentConfigs.Where(c => c.Id == id).ExecuteUpdateAsync(s => s.SetProperty(c => c.SystemPrompt, prompt)));
        }
    }

    [Fact]
    public async Task AnotherProcessesWrite_IsRefreshedInTheBackground_AndNeverServedPastTheLifetime()
    {
        var world = await BuyerWorld.CreateAsync(_api, "Basic Prompting");
        var key = await world.KeyAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(clock)));
        var client = app.CreateClient();
        static string Output(System.Text.Json.Nodes.JsonObject answer) => answer["output"]!.GetValue<string>();

        Assert.DoesNotContain("pirate", Output(await BuyerWorld.AskAsync(client, key, "hi"))); // loads the cache
        await SetPromptElsewhereAsync(world.Config, "Speak like a pirate.");

        // Within the first half of the lifetime the cached config is used as it is: the write is not seen yet.
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.DoesNotContain("pirate", Output(await BuyerWorld.AskAsync(client, key, "hi")));

        // Past half of it, the caller still gets the cached config at once, and a refresh starts in the background.
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.DoesNotContain("pirate", Output(await BuyerWorld.AskAsync(client, key, "hi")));
        await app.Services.GetRequiredService<GatewayDirectory>().RefreshesDone();
        Assert.Contains("Speak like a pirate.", Output(await BuyerWorld.AskAsync(client, key, "hi")));

        // An entry that reached the end of its lifetime is never used: the very next call loads the config again.
        await SetPromptElsewhereAsync(world.Config, "Speak like a robot.");
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Contains("Speak like a robot.", Output(await BuyerWorld.AskAsync(client, key, "hi")));
    }
}
