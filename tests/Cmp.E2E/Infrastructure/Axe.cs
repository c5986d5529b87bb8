using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Cmp.E2E.Infrastructure;

/// <summary>axe-core on the page as it stands: no serious or critical violation, else the test fails naming them.</summary>
public static class Axe
{
    public static async Task AssertAccessibleAsync(IPage page, string name)
    {
        var result = await page.RunAxe();
        var bad = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(bad.Count == 0, $"axe-core on {name} ({page.Url}):\n" + string.Join("\n", bad.Select(v =>
            $"- {v.Impact} {v.Id}: {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => string.Join(" ", n.Target)))}")));
    }
}
