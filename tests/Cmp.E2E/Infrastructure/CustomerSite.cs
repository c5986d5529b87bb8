using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Cmp.E2E.Infrastructure;

/// <summary>
/// A customer's website on another origin: <c>http://localhost:{port}</c> (and the same server as
/// <c>http://127.0.0.1:{port}</c>, a second origin). Its page embeds the widget with the two script lines
/// and carries hostile CSS that would break any widget living in the page's own DOM.
/// </summary>
public sealed class CustomerSite : IAsyncDisposable
{
    public const string HostileCss = """
        * { font-size: 2px !important; color: red !important; line-height: 0 !important; letter-spacing: 4px !important;
            font-family: "Comic Sans MS", cursive !important; box-sizing: content-box !important; }
        main, main * { font-size: 18px !important; line-height: 1.5 !important; color: #30343b !important; letter-spacing: normal !important;
            font-family: Georgia, serif !important; }
        main h1 { font-size: 34px !important; }
        button, input, textarea, [role=dialog], [role=log], [role=textbox], [aria-label] { display: none !important; }
        div, span, p, form, img, svg, h2 { display: none !important; visibility: hidden !important; }
        cmp-chat-widget, main ~ * { display: none !important; opacity: 0 !important; transform: scale(.2) !important; position: absolute !important;
            left: -9999px !important; top: -9999px !important; pointer-events: none !important; filter: blur(8px) !important; }
        """;

    private readonly WebApplication _app;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _pages = new();

    private CustomerSite(WebApplication app, int port, string cmpBaseUrl)
    {
        _app = app;
        Port = port;
        CmpBaseUrl = cmpBaseUrl;
    }

    public int Port { get; }

    public string CmpBaseUrl { get; }

    /// <summary>The page origin that agent configs allow (host <c>localhost</c>).</summary>
    public string AllowedOrigin => $"http://localhost:{Port}";

    /// <summary>The same site under another origin (host <c>127.0.0.1</c>).</summary>
    public string OtherOrigin => $"http://127.0.0.1:{Port}";

    public static async Task<CustomerSite> StartAsync(string cmpBaseUrl)
    {
        var port = CmpServer.FreePort();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = "Production" });
        // IPv4 only: the browser reaches "localhost" there too, and the machine may have no IPv6.
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, port));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/", (HttpRequest request) =>
        {
            var options = new Dictionary<string, string>();
            foreach (var name in new[] { "widget_id", "api_key", "theme", "position" })
            {
                if (request.Query[name].ToString() is { Length: > 0 } value)
                {
                    options[name] = value;
                }
            }
            return Results.Content(Page(cmpBaseUrl, JsonSerializer.Serialize(options)), "text/html; charset=utf-8");
        });
        CustomerSite? site = null;
        // Pages a test wrote itself, e.g. with the embed code it copied from CMP's console pasted in.
        app.MapGet("/pages/{id}", (string id) => site!._pages.TryGetValue(id, out var html)
            ? Results.Content(html, "text/html; charset=utf-8")
            : Results.NotFound());
        await app.StartAsync();
        site = new CustomerSite(app, port, cmpBaseUrl);
        return site;
    }

    /// <summary>
    /// Serves a customer's page with <paramref name="snippet"/> pasted before <c>&lt;/body&gt;</c>, as a site owner
    /// pastes an embed code; answers its path (append it to an origin).
    /// </summary>
    public string Publish(string snippet)
    {
        var id = Guid.NewGuid().ToString("N");
        _pages[id] = $$"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Acme Outdoor</title>
            <style>body { margin: 0; background: #f3efe6; } main { max-width: 760px; margin: 0 auto; padding: 56px 32px; } {{HostileCss}}</style>
            </head>
            <body>
            <main><h1>Acme Outdoor</h1><section>Tents, boots and jackets for every season.</section></main>
            {{snippet}}
            </body>
            </html>
            """;
        return "/pages/" + id;
    }

    /// <summary>The page URL on <paramref name="origin"/> that starts the widget with these options.</summary>
    public static string Url(string origin, string widgetId, string apiKey, string? theme = null, string? position = null)
    {
        var query = $"?widget_id={Uri.EscapeDataString(widgetId)}&api_key={Uri.EscapeDataString(apiKey)}";
        if (theme is not null)
        {
            query += "&theme=" + Uri.EscapeDataString(theme);
        }
        if (position is not null)
        {
            query += "&position=" + Uri.EscapeDataString(position);
        }
        return origin + "/" + query;
    }

    private static string Page(string cmp, string optionsJson) => $$"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Acme Outdoor</title>
        <style>
        body { margin: 0; background: #f3efe6; }
        main { max-width: 760px; margin: 0 auto; padding: 56px 32px; }
        {{HostileCss}}
        </style>
        </head>
        <body>
        <main>
          <h1>Acme Outdoor</h1>
          <section>Tents, boots and jackets for every season. Free returns within 30 days.</section>
          <section>Questions about sizes or delivery? Our assistant is in the corner of the page.</section>
        </main>
        <script src="{{cmp}}/widget/loader.js"></script>
        <script>window.cmpWidget = WaldurWidget.init({{optionsJson}});</script>
        </body>
        </html>
        """;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
