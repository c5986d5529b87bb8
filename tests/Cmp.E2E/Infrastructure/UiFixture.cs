using Microsoft.Playwright;

namespace Cmp.E2E.Infrastructure;

/// <summary>
/// One fresh CMP server for the web UI's journeys (self-registration on, a default project per new organization, as
/// a marketplace open to the public runs), a customer website on another origin, and the system's Chromium.
/// Shared by every test of a class: the journeys build on each other's users instead of starting servers.
/// </summary>
public sealed class UiFixture : IAsyncLifetime
{
    public CmpServer Server { get; } = new(new Dictionary<string, string>
    {
        ["ONBOARDING_UNIVERSAL_AUTO_APPROVE"] = "true",
        ["CREATE_DEFAULT_PROJECT_ON_ORGANIZATION_CREATION"] = "true",
    });

    public CustomerSite Site { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(BrowserFixture.ChromiumPath))
        {
            throw new InvalidOperationException($"No browser at {BrowserFixture.ChromiumPath}: install Debian's chromium (apt-get install chromium) or set CMP_CHROMIUM.");
        }
        Server.StartServer();
        Site = await CustomerSite.StartAsync(Server.BaseUrl);
        Assertions.SetDefaultExpectTimeout(20_000);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = BrowserFixture.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A new browser profile (its own cookies), desktop-sized unless told otherwise.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 900, string? storageState = null)
    {
        var context = await Browser.NewContextAsync(new()
        {
            BaseURL = Server.BaseUrl,
            ViewportSize = new() { Width = width, Height = height },
            DeviceScaleFactor = 1,
            StorageState = storageState,
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
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
