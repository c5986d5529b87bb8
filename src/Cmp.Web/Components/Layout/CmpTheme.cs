using MudBlazor;

namespace Cmp.Web.Components.Layout;

/// <summary>One theme for the consoles, light and dark; system fonts (nothing is fetched from another site).</summary>
public static class CmpTheme
{
    public static readonly MudTheme Theme = new()
    {
        // Error and Success darker than MudBlazor's defaults, which fail WCAG AA contrast (field errors and labels on white, white snackbar text).
        PaletteLight = new PaletteLight { Primary = "#3949ab", Secondary = "#00897b", AppbarBackground = "#283593", Error = "#c62828", Success = "#2e7d32" },
        PaletteDark = new PaletteDark { Primary = "#9fa8da", Secondary = "#4db6ac", Error = "#ff8a80" },
        Typography = new Typography
        {
            Default = new DefaultTypography { FontFamily = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"] },
        },
    };
}
