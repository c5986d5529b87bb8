using Microsoft.JSInterop;

namespace Cmp.Web.Features.Agents.Pages;

/// <summary>
/// An <c>InputFile</c> listens for a choice only once its JavaScript init ran (after its first render); a file set
/// before that (a quick user, a browser test) is lost. The pages give the input its id, which is what ties it to
/// its label, only after two round trips to the browser: by then the init, sent in the same after-render pass,
/// has run, since the browser handles calls in order.
/// </summary>
internal static class InputFileReady
{
    public static async Task WaitAsync(IJSRuntime js)
    {
        await js.InvokeVoidAsync("console.debug", "cmp: file input ready");
        await js.InvokeVoidAsync("console.debug", "cmp: file input ready");
    }
}
