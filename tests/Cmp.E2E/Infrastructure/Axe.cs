using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Cmp.E2E.Infrastructure;

/// <summary>axe-core on the page as it stands: no serious or critical violation, else the test fails naming them.</summary>
public static class Axe
{
    public static async Task AssertAccessibleAsync(IPage page, string name)
    {
        // Snackbars are left out: caught mid fade-in, their text blends with the page and fails contrast for a moment.
        var result = await page.RunAxe(new AxeRunContext { Exclude = [new AxeSelector(".mud-snackbar")] });
        var bad = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(bad.Count == 0, $"axe-core on {name} ({page.Url}):\n" + string.Join("\n", bad.Select(v =>
            $"- {v.Impact} {v.Id}: {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => string.Join(" ", n.Target)))}")));
    }
}
