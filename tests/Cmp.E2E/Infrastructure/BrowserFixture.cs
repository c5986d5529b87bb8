using Microsoft.Playwright;

namespace Cmp.E2E.Infrastructure;

/// <summary>
/// One CMP server on Kestrel, one customer website on another origin, a published agent and a buyer, and a
/// headless Chromium (the system's, <c>/usr/bin/chromium</c> or <c>CMP_CHROMIUM</c>: Playwright downloads nothing).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public CmpServer Server { get; } = new();
    public CustomerSite Site { get; private set; } = null!;
    public Marketplace Market { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    public static string ChromiumPath =>
        Environment.GetEnvironmentVariable("CMP_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";

    public static string Screenshot(string name)
    {
        var dir = Path.Combine(Marketplace.RepositoryRoot(), "tests", "Cmp.E2E", "screenshots");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"No browser at {ChromiumPath}: install Debian's chromium (apt-get install chromium) or set CMP_CHROMIUM.");
        }
        Server.StartServer();
        Site = await CustomerSite.StartAsync(Server.BaseUrl);
        Market = new Marketplace(Server.BaseUrl);
        await Market.SetUpAsync();
        Assertions.SetDefaultExpectTimeout(15_000);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        Playwright?.Dispose();
        if (Site is not null)
        {
            await Site.DisposeAsync();
        }
        await Server.DisposeAsync();
    }
}
