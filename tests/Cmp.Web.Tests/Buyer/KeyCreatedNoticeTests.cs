using Bunit;
using Cmp.Web.Features.AgentConfigs.Pages;
using MudBlazor.Services;

namespace Cmp.Web.Tests.Buyer;

/// <summary>The buyer console's new-key notice: a key is shown once, and once dismissed it is gone for good.</summary>
public sealed class KeyCreatedNoticeTests : IDisposable
{
    private const string Key = "ar_pk_live_AbCdEfGhIjKlMnOpQrStUvWx";

    private readonly BunitContext _ctx = new();

    public KeyCreatedNoticeTests()
    {
        _ctx.Services.AddMudServices();
        _ctx.JSInterop.Mode = JSRuntimeMode.Loose;
    }

    public void Dispose() => _ctx.Dispose();

    [Fact]
    public void Render_NewKey_ShowsTheKeyWithCopyAndWarning()
    {
        var notice = _ctx.Render<KeyCreatedNotice>(p => p.Add(n => n.Key, new OneTimeKey("Shop website", "publishable", Key)));

        Assert.Contains(Key, notice.Markup, StringComparison.Ordinal);
        Assert.Contains("will not be shown again", notice.Markup, StringComparison.Ordinal);
        Assert.Contains("Shop website", notice.Markup, StringComparison.Ordinal);
        Assert.Single(notice.FindAll("button"), b => b.TextContent.Contains("Copy key", StringComparison.Ordinal));
    }

    [Fact]
    public void Copy_NewKey_PutsTheKeyOnTheClipboard()
    {
        _ctx.JSInterop.Setup<bool>("cmp.copy", Key).SetResult(true);
        var notice = _ctx.Render<KeyCreatedNotice>(p => p.Add(n => n.Key, new OneTimeKey("Shop website", "publishable", Key)));

        notice.FindAll("button").Single(b => b.TextContent.Contains("Copy key", StringComparison.Ordinal)).Click();

        Assert.Single(_ctx.JSInterop.VerifyInvoke("cmp.copy").Arguments, Key);
        Assert.Contains("Copied to the clipboard.", notice.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public void Dismiss_ShownKey_IsGoneAndCannotBeShownAgain()
    {
        var key = new OneTimeKey("Server", "secret", Key);
        var dismissed = 0;
        var notice = _ctx.Render<KeyCreatedNotice>(p => p.Add(n => n.Key, key).Add(n => n.Dismissed, () => dismissed++));
        Assert.Contains(Key, notice.Markup, StringComparison.Ordinal);

        notice.FindAll("button").Single(b => b.TextContent.Contains("I have saved it", StringComparison.Ordinal)).Click();

        Assert.Equal(1, dismissed);
        Assert.DoesNotContain(Key, notice.Markup, StringComparison.Ordinal);
        // The same key again, to this notice or to a new one: nothing to show, the console kept no copy.
        notice.Render(p => p.Add(n => n.Key, key));
        Assert.DoesNotContain(Key, notice.Markup, StringComparison.Ordinal);
        var another = _ctx.Render<KeyCreatedNotice>(p => p.Add(n => n.Key, key));
        Assert.DoesNotContain(Key, another.Markup, StringComparison.Ordinal);
        Assert.Null(key.Take());
    }

    [Fact]
    public void Render_NoKey_ShowsNothing()
    {
        var notice = _ctx.Render<KeyCreatedNotice>();

        Assert.Equal("", notice.Markup.Trim());
    }
}
