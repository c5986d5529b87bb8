using System.Text.RegularExpressions;

namespace Cmp.Web.Features.Platform.Pages;

/// <summary>Finds the web addresses in a stored mail's plain-text body, so the operator's view can make them links.</summary>
internal static partial class MailText
{
    [GeneratedRegex(@"https?://[^\s<>""]+")]
    public static partial Regex Links();
}
