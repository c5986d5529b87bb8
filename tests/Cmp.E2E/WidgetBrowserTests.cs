using System.Collections.Concurrent;
using System.Text.Json;
using Cmp.E2E.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cmp.E2E;

/// <summary>
/// The chat widget in a real browser, embedded with its two script lines in a customer's page on another
/// origin whose CSS is hostile, against the real CMP server and its deterministic dev model.
/// </summary>
public sealed class WidgetBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const string NotAvailable = "This chat isn\u2019t available on this website.";

    /// <summary>A browser tab; every JavaScript dialog (alert, confirm) it raises is recorded.</summary>
    private sealed class Tab(IBrowserContext context, IPage page) : IAsyncDisposable
    {
        public IBrowserContext Context { get; } = context;
        public IPage Page { get; } = page;
        public ConcurrentQueue<string> Dialogs { get; } = new();
        public ConcurrentQueue<string> Console { get; } = new();

        public async ValueTask DisposeAsync() => await Context.CloseAsync();
    }

    private async Task<Tab> OpenAsync(string url, int width = 1280, int height = 800, ColorScheme scheme = ColorScheme.Light, bool fakeClock = false, Action<IPage>? watch = null)
    {
        var context = await fixture.Browser.NewContextAsync(new()
        {
            ViewportSize = new() { Width = width, Height = height },
            ColorScheme = scheme,
            DeviceScaleFactor = 1,
        });
        var page = await context.NewPageAsync();
        var tab = new Tab(context, page);
        page.Dialog += (_, dialog) =>
        {
            tab.Dialogs.Enqueue(dialog.Type + ": " + dialog.Message);
            _ = dialog.DismissAsync();
        };
        page.Console += (_, message) => tab.Console.Enqueue(message.Type + ": " + message.Text);
        watch?.Invoke(page);
        if (fakeClock)
        {
            await page.Clock.InstallAsync();
        }
        await page.GotoAsync(url);
        return tab;
    }

    private static ILocator Launcher(IPage page) => page.GetByRole(AriaRole.Button, new() { Name = "Open chat", Exact = true });

    private static ILocator Dialog(IPage page, string name) => page.GetByRole(AriaRole.Dialog, new() { Name = name, Exact = true });

    private static ILocator Message(IPage page) => page.GetByRole(AriaRole.Textbox, new() { Name = "Message", Exact = true });

    private static ILocator Log(IPage page) => page.GetByRole(AriaRole.Log);

    private static ILocator Bubbles(ILocator dialog) => dialog.Locator(".msg:not([hidden]):not(.typing)");

    /// <summary>Records every text the newest reply bubble shows, and whether the typing indicator appeared.</summary>
    private static Task WatchRepliesAsync(IPage page) => page.EvaluateAsync("""
        () => {
          const root = document.querySelector('cmp-chat-widget').shadowRoot;
          window.replies = []; window.typingSeen = false;
          new MutationObserver(() => {
            if (root.querySelector('.typing')) window.typingSeen = true;
            const all = root.querySelectorAll('.msg.assistant:not(.greeting):not(.typing)');
            if (all.length) window.replies.push(all[all.length - 1].textContent);
          }).observe(root, { subtree: true, childList: true, characterData: true });
        }
        """);

    private static async Task<string?> StoredAsync(IPage page, string widgetId) =>
        await page.EvaluateAsync<string?>("id => localStorage.getItem('cmp-widget:' + id)", widgetId);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    /// <summary>Sends a message and waits until the whole reply is in (the log stops being busy).</summary>
    private static async Task AskAsync(IPage page, string text)
    {
        await SendAsync(page, text);
        await Expect(Log(page)).ToContainTextAsync("[dev] " + text);
        await Expect(Log(page)).Not.ToHaveAttributeAsync("aria-busy", "true");
    }

    private static async Task SendAsync(IPage page, string text)
    {
        var input = Message(page);
        await input.FillAsync(text);
        await input.PressAsync("Enter");
    }

    [Fact]
    public async Task Desktop_LooksAsConfigured_StreamsReplies_AndKeepsTheConversation()
    {
        const string greeting = "Hi! I'm the Acme assistant. Ask me about sizes, delivery or returns.";
        var widget = await fixture.Market.NewWidgetAsync(new
        {
            agent_name = "Acme Helper",
            greeting,
            primary_color = "#E4572E",
            secondary_color = "#ffffff",
            position = "bottom-right",
            theme = "light",
            allowed_domains = new[] { "localhost" },
        });
        await using var tab = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key));
        var page = tab.Page;

        // The launcher survives the page's CSS, in the configured colour and corner.
        var launcher = Launcher(page);
        await Expect(launcher).ToBeVisibleAsync();
        await Expect(launcher).ToHaveCSSAsync("background-color", "rgb(228, 87, 46)");
        var box = (await launcher.BoundingBoxAsync())!;
        Assert.InRange(1280 - (box.X + box.Width), 12, 28);
        Assert.InRange(800 - (box.Y + box.Height), 12, 28);
        Assert.InRange(box.Width, 48, 64);

        // Opening moves the focus into a dialog named after the agent, whose first message is the greeting.
        await launcher.ClickAsync();
        var dialog = Dialog(page, "Acme Helper");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(Message(page)).ToBeFocusedAsync();
        await Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "Close chat", Exact = true })).ToBeVisibleAsync();
        await Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true })).ToBeVisibleAsync();
        await Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "New conversation", Exact = true })).ToBeVisibleAsync();
        await Expect(Bubbles(dialog).First).ToHaveTextAsync(greeting);
        await Expect(Bubbles(dialog).First).ToHaveCSSAsync("font-size", "14px");
        await Expect(Bubbles(dialog).First).Not.ToHaveCSSAsync("color", "rgb(255, 0, 0)");
        var panel = (await dialog.BoundingBoxAsync())!;
        Assert.InRange(1280 - (panel.X + panel.Width), 12, 28);
        Assert.InRange(panel.Width, 340, 420);

        // Enter sends; the reply streams in after a typing indicator.
        await WatchRepliesAsync(page);
        await AskAsync(page, "Hello widget, which tents do you have?");
        await Expect(Message(page)).ToHaveValueAsync("");
        var reply = await Bubbles(dialog).Last.TextContentAsync() ?? "";
        Assert.StartsWith("[dev] Hello widget, which tents do you have?", reply);
        Assert.True(await page.EvaluateAsync<bool>("() => window.typingSeen"), "the typing indicator showed");
        var seen = await page.EvaluateAsync<string[]>("() => window.replies");
        Assert.Contains(seen, text => text.Length > 0 && text.Length < reply.Length && reply.StartsWith(text, StringComparison.Ordinal));
        await page.ScreenshotAsync(new() { Path = BrowserFixture.Screenshot("desktop.png") });

        // Escape closes and gives the focus back to the launcher.
        await page.Keyboard.PressAsync("Escape");
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(launcher).ToBeFocusedAsync();

        // A reload keeps the conversation: the server's handle for it is kept and sent back with the next session.
        var stored = JsonDocument.Parse((await StoredAsync(page, widget.Id))!).RootElement;
        var conversation = stored.GetProperty("conversation").GetString();
        Assert.False(string.IsNullOrEmpty(conversation));
        await page.ReloadAsync();
        await Launcher(page).ClickAsync();
        await Expect(Bubbles(dialog)).ToHaveCountAsync(3);
        await Expect(Bubbles(dialog).Nth(1)).ToHaveTextAsync("Hello widget, which tents do you have?");
        await Expect(Bubbles(dialog).Nth(2)).ToContainTextAsync("[dev] Hello widget, which tents do you have?");
        await AskAsync(page, "And boots?");
        await Expect(Bubbles(dialog)).ToHaveCountAsync(5);
        await Expect(Bubbles(dialog).Nth(4)).ToContainTextAsync("[dev] And boots?");
        Assert.Equal(conversation, JsonDocument.Parse((await StoredAsync(page, widget.Id))!).RootElement.GetProperty("conversation").GetString());

        // Offline: a friendly message, and the text stays in the box.
        await tab.Context.SetOfflineAsync(true);
        await SendAsync(page, "Are you still there?");
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToHaveTextAsync("You\u2019re offline. Check your connection and try again.");
        await Expect(Message(page)).ToHaveValueAsync("Are you still there?");
        await Expect(Bubbles(dialog)).ToHaveCountAsync(5);
        await tab.Context.SetOfflineAsync(false);
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0);
        await Message(page).PressAsync("Enter");
        await Expect(Bubbles(dialog).Nth(6)).ToContainTextAsync("[dev] Are you still there?");
        await Expect(Log(page)).Not.ToHaveAttributeAsync("aria-busy", "true");

        // "New conversation" forgets it.
        await dialog.GetByRole(AriaRole.Button, new() { Name = "New conversation", Exact = true }).ClickAsync();
        await Expect(Bubbles(dialog)).ToHaveCountAsync(1);
        await Expect(Bubbles(dialog).First).ToHaveTextAsync(greeting);
        Assert.Null(await StoredAsync(page, widget.Id));
        await page.ReloadAsync();
        await Launcher(page).ClickAsync();
        await Expect(Bubbles(dialog)).ToHaveCountAsync(1);

        // The close button works as well.
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Close chat", Exact = true }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(Launcher(page)).ToBeFocusedAsync();
        Assert.Empty(tab.Dialogs);
    }

    [Fact]
    public async Task HostileAgentName_IsShownAsText_AndNothingRuns()
    {
        const string name = "<img src=x onerror=alert(1)>";
        const string greeting = "<b>Hi</b><script>alert(2)</script><svg onload=alert(3)>";
        var widget = await fixture.Market.NewWidgetAsync(new { agent_name = name, greeting, allowed_domains = new[] { "localhost", "127.0.0.1" } });
        await using var tab = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key));
        var page = tab.Page;
        await Launcher(page).ClickAsync();
        var dialog = Dialog(page, name);
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByRole(AriaRole.Heading, new() { Name = name, Exact = true })).ToBeVisibleAsync();
        await Expect(Bubbles(dialog).First).ToHaveTextAsync(greeting);
        await AskAsync(page, "<img src=y onerror=alert(4)>");
        var injected = await page.EvaluateAsync<int>("() => document.querySelector('cmp-chat-widget').shadowRoot.querySelectorAll('img, script, svg[onload], b').length");
        Assert.Equal(0, injected);
        await page.WaitForTimeoutAsync(500);
        Assert.Empty(tab.Dialogs);

        // The preview page on the CMP server shows the same name as text too.
        await using var demo = await OpenAsync($"{fixture.Server.BaseUrl}/widget/demo/{widget.Id}?key={widget.Key}");
        await Expect(demo.Page.GetByRole(AriaRole.Heading, new() { Name = "Widget preview: " + name, Exact = true })).ToBeVisibleAsync();
        await Expect(Dialog(demo.Page, name)).ToBeVisibleAsync();
        await Expect(Bubbles(Dialog(demo.Page, name)).First).ToHaveTextAsync(greeting);
        await demo.Page.WaitForTimeoutAsync(500);
        Assert.Empty(demo.Dialogs);
        Assert.DoesNotContain(demo.Console, line => line.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Phone_OpenPanelCoversTheScreen_LauncherInTheConfiguredCorner()
    {
        var widget = await fixture.Market.NewWidgetAsync(new
        {
            agent_name = "Trail Guide",
            greeting = "Hello! Planning a hike? I can help with gear and sizes.",
            primary_color = "#2F6B4F",
            position = "bottom-left",
            theme = "light",
            allowed_domains = new[] { "localhost" },
        });
        await using var tab = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key), 375, 740);
        var page = tab.Page;
        var launcher = Launcher(page);
        await Expect(launcher).ToHaveCSSAsync("background-color", "rgb(47, 107, 79)");
        var box = (await launcher.BoundingBoxAsync())!;
        Assert.InRange(box.X, 12, 28);
        Assert.InRange(740 - (box.Y + box.Height), 12, 28);

        await launcher.ClickAsync();
        var dialog = Dialog(page, "Trail Guide");
        await Expect(dialog).ToBeVisibleAsync();
        await AskAsync(page, "Which boots for a wet autumn trail?");
        var panel = (await dialog.BoundingBoxAsync())!;
        Assert.Equal(0, panel.X, 0.5);
        Assert.Equal(0, panel.Y, 0.5);
        Assert.Equal(375, panel.Width, 0.5);
        Assert.Equal(740, panel.Height, 0.5);
        await page.ScreenshotAsync(new() { Path = BrowserFixture.Screenshot("phone.png") });

        // The init option overrides the configured corner.
        await using var right = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key, position: "bottom-right"), 375, 740);
        var rightBox = (await Launcher(right.Page).BoundingBoxAsync())!;
        Assert.InRange(375 - (rightBox.X + rightBox.Width), 12, 28);
    }

    [Fact]
    public async Task Theme_DarkByOption_AutoFollowsTheSystem()
    {
        var widget = await fixture.Market.NewWidgetAsync(new
        {
            agent_name = "Night Owl",
            greeting = "Good evening! What are you looking for today?",
            primary_color = "#7C5CFF",
            theme = "light",
            allowed_domains = new[] { "localhost" },
        });
        await using (var tab = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key, theme: "dark")))
        {
            await Launcher(tab.Page).ClickAsync();
            var dialog = Dialog(tab.Page, "Night Owl");
            await Expect(dialog).ToHaveCSSAsync("background-color", "rgb(28, 29, 33)");
            await AskAsync(tab.Page, "Do you have a warm sleeping bag?");
            await tab.Page.ScreenshotAsync(new() { Path = BrowserFixture.Screenshot("dark.png") });
        }

        // Without an option, the config's theme: light.
        await using (var light = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key), scheme: ColorScheme.Dark))
        {
            await Launcher(light.Page).ClickAsync();
            await Expect(Dialog(light.Page, "Night Owl")).ToHaveCSSAsync("background-color", "rgb(255, 255, 255)");
        }

        // auto follows prefers-color-scheme, live.
        await fixture.Market.UpdateAsync(widget, new { theme = "auto" });
        await using var auto = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key), scheme: ColorScheme.Dark);
        await Launcher(auto.Page).ClickAsync();
        var autoDialog = Dialog(auto.Page, "Night Owl");
        await Expect(autoDialog).ToHaveCSSAsync("background-color", "rgb(28, 29, 33)");
        await auto.Page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await Expect(autoDialog).ToHaveCSSAsync("background-color", "rgb(255, 255, 255)");
    }

    [Fact]
    public async Task OriginNotAllowed_ShowsTheRefusal_NeverAnAnswer()
    {
        var widget = await fixture.Market.NewWidgetAsync(new { agent_name = "Elsewhere", allowed_domains = new[] { "shop.example.com" } });
        await using var tab = await OpenAsync(CustomerSite.Url(fixture.Site.OtherOrigin, widget.Id, widget.Key));
        var page = tab.Page;
        await Launcher(page).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync(NotAvailable);
        await SendAsync(page, "Hello?");
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync(NotAvailable);
        await Expect(Message(page)).ToHaveValueAsync("Hello?");
        await page.WaitForTimeoutAsync(1000);
        await Expect(Log(page)).Not.ToContainTextAsync("[dev]");
        Assert.Null(await StoredAsync(page, widget.Id));
    }

    [Fact]
    public async Task CapReached_SaysSoInThePanel()
    {
        var widget = await fixture.Market.NewWidgetAsync(new { agent_name = "Trial Bot", allowed_domains = new[] { "localhost" } }, capped: true);
        await using var tab = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key));
        var page = tab.Page;
        await Launcher(page).ClickAsync();
        await AskAsync(page, "First question");
        await SendAsync(page, "Second question");
        var dialog = Dialog(page, "Trial Bot");
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToHaveTextAsync("This assistant has reached its usage limit. Please try again later.");
        await Expect(Log(page)).Not.ToContainTextAsync("[dev] Second question");
        await Expect(Message(page)).ToHaveValueAsync("Second question");
    }

    [Fact]
    public async Task SessionToken_IsRenewedBeforeItExpires()
    {
        var widget = await fixture.Market.NewWidgetAsync(new { agent_name = "Patient", allowed_domains = new[] { "localhost" } });
        var sessions = 0;
        void Watch(IPage page) => page.RequestFinished += (_, request) =>
        {
            if (request.Method == "POST" && request.Url.EndsWith("/api/agent-gateway/widget-session/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref sessions);
            }
        };
        await using var tab = await OpenAsync(CustomerSite.Url(fixture.Site.AllowedOrigin, widget.Id, widget.Key), fakeClock: true, watch: Watch);
        var page = tab.Page;
        await Expect(Launcher(page)).ToBeVisibleAsync();
        await WaitForAsync(() => Volatile.Read(ref sessions) >= 1);
        Assert.Equal(1, Volatile.Read(ref sessions));

        // The token lives 30 minutes; the widget renews it two minutes before.
        await page.Clock.FastForwardAsync("27:00");
        await Task.Delay(300);
        Assert.Equal(1, Volatile.Read(ref sessions));
        await page.Clock.FastForwardAsync("02:00");
        await WaitForAsync(() => Volatile.Read(ref sessions) >= 2);
        Assert.Equal(2, Volatile.Read(ref sessions));
        await Launcher(page).ClickAsync();
        await AskAsync(page, "Still here after half an hour");
    }
}
