using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;

namespace Cmp.Web.Features.Widget;

/// <summary>
/// <c>GET /customer/agents/{resource_uuid}/widget-preview</c>: the page the buyer console's Persona &amp; branding tab
/// shows in an iframe. It loads the real <c>/widget/loader.js</c> and renders <c>WaldurWidget.preview(look)</c> with
/// the values the console posts to it (same origin only). It reads nothing from the server and may talk to no one
/// (<c>connect-src 'none'</c>); only this site may frame it.
/// </summary>
internal static class WidgetPreviewPage
{
    public static void Map(IEndpointRouteBuilder app, WidgetScript? script) =>
        app.MapGet("/customer/agents/{uuid}/widget-preview", async (string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        {
            if (await ResourceOperations.FindAsync(db, access, uuid, ct) is null)
            {
                return Problems.NotFound("resource");
            }
            var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var headers = ctx.Response.Headers;
            headers.ContentSecurityPolicy = $"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src https: data:; "
                + "connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XContentTypeOptions = "nosniff";
            headers.CacheControl = "no-store";
            var loader = ctx.Request.PathBase + (script is null ? "/widget/loader.js" : WidgetEndpoints.VersionedPath(script));
            var html = Page.Replace("{{LOADER}}", HtmlEncoder.Default.Encode(loader), StringComparison.Ordinal).Replace("{{NONCE}}", nonce, StringComparison.Ordinal);
            return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8);
        }).RequireAuthorization().ExcludeFromDescription();

    // The console posts {type: 'cmp-widget-preview', look}; the page answers 'cmp-widget-preview-ready' once it listens.
    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Widget preview</title>
        <style nonce="{{NONCE}}">
          html, body { margin: 0; height: 100%; background: repeating-linear-gradient(45deg, #f4f5f7 0 12px, #eceef1 12px 24px); }
          h1 { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        </style>
        </head>
        <body>
        <main><h1>Widget preview</h1></main>
        <script src="{{LOADER}}"></script>
        <script nonce="{{NONCE}}">
          (function () {
            window.addEventListener('message', function (event) {
              if (event.origin !== location.origin || event.source !== window.parent || !event.data || event.data.type !== 'cmp-widget-preview') {
                return;
              }
              window.WaldurWidget.preview(event.data.look);
            });
            window.WaldurWidget.preview({});
            window.parent.postMessage({ type: 'cmp-widget-preview-ready' }, location.origin);
          })();
        </script>
        </body>
        </html>
        """;
}
