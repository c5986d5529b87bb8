using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Primitives;

namespace Cmp.Web.Features.Widget;

public sealed record WidgetEmbedDto(string WidgetId, string LoaderUrl, string EmbedCode);

/// <summary>
/// The widget script (<c>wwwroot/widget/loader.js</c>), read once at startup: its bytes, their gzip and brotli
/// forms, and a version (the first 12 hex digits of its SHA-256) for the immutable, versioned URL.
/// </summary>
public sealed class WidgetScript
{
    public const string RelativePath = "widget/loader.js";

    private WidgetScript(byte[] content)
    {
        Content = content;
        var hash = Convert.ToHexStringLower(SHA256.HashData(content));
        Version = hash[..12];
        ETag = $"W/\"{hash[..32]}\"";
        Gzip = Compress(content, s => new GZipStream(s, CompressionLevel.SmallestSize, leaveOpen: true));
        Brotli = Compress(content, s => new BrotliStream(s, CompressionLevel.SmallestSize, leaveOpen: true));
    }

    public byte[] Content { get; }
    public byte[] Gzip { get; }
    public byte[] Brotli { get; }
    public string Version { get; }
    public string ETag { get; }

    private static byte[] Compress(byte[] content, Func<Stream, Stream> compressor)
    {
        using var output = new MemoryStream();
        using (var stream = compressor(output))
        {
            stream.Write(content);
        }
        return output.ToArray();
    }

    /// <summary>
    /// The content root's <c>wwwroot</c> (published app, tests), the web root provider (which in Development
    /// also sees the project's static web assets), or, for a build output started from elsewhere, the project
    /// folder above the assembly.
    /// </summary>
    public static WidgetScript? Load(IWebHostEnvironment env)
    {
        var candidates = new List<string> { Path.Combine(env.ContentRootPath, "wwwroot", "widget", "loader.js") };
        if (env.WebRootFileProvider?.GetFileInfo(RelativePath) is { Exists: true, PhysicalPath: { } physical })
        {
            candidates.Add(physical);
        }
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (var i = 0; i < 5 && dir is not null; i++, dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "wwwroot", "widget", "loader.js"));
        }
        var path = candidates.FirstOrDefault(File.Exists);
        return path is null ? null : new WidgetScript(File.ReadAllBytes(path));
    }

    /// <summary>The best representation for an Accept-Encoding header: brotli, gzip, or the plain bytes.</summary>
    public (byte[] Bytes, string? Encoding) For(StringValues acceptEncoding)
    {
        var accepted = acceptEncoding.ToString().Split(',')
            .Select(part => part.Split(';'))
            .Where(p => !p.Skip(1).Any(q => q.Trim().Replace(" ", "", StringComparison.Ordinal) is "q=0" or "q=0.0" or "q=0.00" or "q=0.000"))
            .Select(p => p[0].Trim().ToLowerInvariant())
            .ToHashSet();
        return accepted.Contains("br") ? (Brotli, "br") : accepted.Contains("gzip") ? (Gzip, "gzip") : (Content, null);
    }
}

/// <summary>
/// The chat widget: <c>GET /widget/loader.js</c> (short cache) and <c>GET /widget/loader.{version}.js</c>
/// (immutable), both open to every origin; the preview page <c>/widget/demo/{widget_id}</c>; the console's live
/// preview (<see cref="WidgetPreviewPage"/>); and
/// <c>GET /api/customer-agent-configs/{uuid}/widget_embed/</c> with the code to paste into a site.
/// </summary>
public static class WidgetEndpoints
{
    public static IEndpointRouteBuilder MapWidgetEndpoints(this IEndpointRouteBuilder app)
    {
        var env = app.ServiceProvider.GetRequiredService<IWebHostEnvironment>();
        var script = WidgetScript.Load(env);
        if (script is null)
        {
            app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WidgetEndpoints))
                .LogError("The widget script {Path} was not found under {ContentRoot}/wwwroot; /widget/loader.js answers 404.", WidgetScript.RelativePath, env.ContentRootPath);
        }
        string[] getHead = ["GET", "HEAD"];
        app.MapMethods("/widget/loader.js", getHead, (HttpContext ctx) => Loader(ctx, script, null))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapMethods("/widget/loader.{version}.js", getHead, (string version, HttpContext ctx) => Loader(ctx, script, version))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/widget/demo/{widgetId}", (string widgetId, HttpContext ctx, CmpDbContext db, CancellationToken ct) => DemoAsync(widgetId, ctx, db, script, ct))
            .AllowAnonymous().RequireRateLimiting(RateLimits.Public).ExcludeFromDescription();
        app.MapGet("/api/customer-agent-configs/{uuid}/widget_embed/", GetEmbedAsync)
            .WithTags("Agent configs").WithName("GetWidgetEmbed").RequireAuthorization();
        WidgetPreviewPage.Map(app, script);
        return app;
    }

    /// <summary>The loader URL pinned to this build of the script (immutable cache).</summary>
    public static string VersionedPath(WidgetScript script) => $"/widget/loader.{script.Version}.js";

    private static IResult Loader(HttpContext ctx, WidgetScript? script, string? version)
    {
        var headers = ctx.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        if (script is null)
        {
            return Problems.Create(404, ProblemTypes.NotFound, "Not found.", "The widget script is not installed on this server.");
        }
        if (version is not null && version != script.Version)
        {
            // An older build: the current one replaces it (nothing older is kept).
            headers.CacheControl = "no-cache";
            return Results.Redirect(ctx.Request.PathBase + VersionedPath(script));
        }
        headers.CacheControl = version is null ? "public, max-age=300" : "public, max-age=31536000, immutable";
        headers.ETag = script.ETag;
        headers.Vary = "Accept-Encoding";
        headers.XContentTypeOptions = "nosniff";
        headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        if (ctx.Request.Headers.IfNoneMatch.Any(v => v is not null && (v.Split(',').Any(t => t.Trim() == script.ETag || t.Trim() == script.ETag[2..]) || v.Trim() == "*")))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        var (bytes, encoding) = script.For(ctx.Request.Headers.AcceptEncoding);
        if (encoding is not null)
        {
            headers.ContentEncoding = encoding;
        }
        return Results.Bytes(bytes, "text/javascript; charset=utf-8");
    }

    private static string EmbedCode(string loaderUrl, string widgetId) =>
        $"<script src=\"{HtmlEncoder.Default.Encode(loaderUrl)}\"></script>\n"
        + $"<script>WaldurWidget.init({{widget_id: \"{widgetId}\", api_key: \"YOUR_PUBLISHABLE_KEY\"}});</script>";

    /// <summary>
    /// The code to paste into a site for a config the user sees (the API and the console's Widget tab);
    /// <paramref name="baseUrl"/> is CMP's public address.
    /// </summary>
    internal static async Task<Outcome<WidgetEmbedDto>> EmbedAsync(CmpDbContext db, Access access, string uuid, string baseUrl, CancellationToken ct)
    {
        var config = await AgentConfigQueries.FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        var widgetId = config.Id.Hex();
        var loaderUrl = baseUrl + "/widget/loader.js";
        return new WidgetEmbedDto(widgetId, loaderUrl, EmbedCode(loaderUrl, widgetId));
    }

    private static async Task<Results<Ok<WidgetEmbedDto>, ProblemHttpResult>> GetEmbedAsync(
        string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await EmbedAsync(db, access, uuid, Refs.BaseUrl(ctx), ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }

    private static readonly JsonSerializerOptions PageJson = new() { Encoder = JavaScriptEncoder.Default };

    /// <summary>
    /// A page on this server that shows the widget of one agent config. Server data reaches the page only as a
    /// JSON value (with &lt; &gt; &amp; escaped) that a script puts into the page as text.
    /// </summary>
    private static async Task<IResult> DemoAsync(string widgetId, HttpContext ctx, CmpDbContext db, WidgetScript? script, CancellationToken ct)
    {
        if (!Refs.TryParse(widgetId, out var id))
        {
            return Problems.NotFound("widget");
        }
        var config = await db.AgentConfigs.AsNoTracking().Where(c => c.Id == id).Select(c => new { c.AgentName }).FirstOrDefaultAsync(ct);
        if (config is null)
        {
            return Problems.NotFound("widget");
        }
        var baseUrl = Refs.BaseUrl(ctx);
        var loaderPath = ctx.Request.PathBase + (script is null ? "/widget/loader.js" : VersionedPath(script));
        var data = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["widget_id"] = id.Hex(),
            ["agent_name"] = config.AgentName,
            ["host"] = ctx.Request.Host.Host,
            ["embed_code"] = EmbedCode(baseUrl + "/widget/loader.js", id.Hex()),
        }, PageJson);
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var headers = ctx.Response.Headers;
        headers.ContentSecurityPolicy = $"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
            + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XContentTypeOptions = "nosniff";
        headers.CacheControl = "no-store";
        var html = DemoPage
            .Replace("{{DATA}}", data, StringComparison.Ordinal)
            .Replace("{{LOADER}}", HtmlEncoder.Default.Encode(loaderPath), StringComparison.Ordinal)
            .Replace("{{NONCE}}", nonce, StringComparison.Ordinal);
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8);
    }

    private const string DemoPage = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Widget preview</title>
        <style>
          body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1d21; background: #f4f5f7; }
          main { max-width: 720px; margin: 0 auto; padding: 40px 24px 120px; }
          h1 { font-size: 26px; margin: 0 0 8px; }
          h2 { font-size: 17px; margin: 28px 0 8px; }
          .card { background: #fff; border: 1px solid #e3e5e9; border-radius: 12px; padding: 20px 24px; margin-top: 20px; }
          code, pre { font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
          pre { background: #f6f7f9; border: 1px solid #e3e5e9; border-radius: 8px; padding: 12px; white-space: pre-wrap; word-break: break-all; }
          form { display: flex; gap: 8px; flex-wrap: wrap; }
          input { flex: 1; min-width: 240px; padding: 9px 12px; border: 1px solid #cfd3da; border-radius: 8px; font: inherit; }
          button { padding: 9px 16px; border: 0; border-radius: 8px; background: #1b1d21; color: #fff; font: inherit; cursor: pointer; }
          .status { color: #5b6068; }
        </style>
        </head>
        <body>
        <main>
          <h1>Widget preview: <span id="agent-name"></span></h1>
          <p class="status" id="status">Give a publishable key below to start the widget on this page.</p>
          <div class="card">
            <h2>How to use this page</h2>
            <ol>
              <li>Create a publishable key for this agent config
                (<code>POST /api/customer-agent-configs/{uuid}/api_keys/</code> with <code>{"name": "preview", "kind": "publishable"}</code>).
                Never use a secret key (<code>ar_sk_live_…</code>) in a web page.</li>
              <li>Add this server's host, <code id="host"></code>, to the config's <code>allowed_domains</code>:
                the widget only opens from the sites listed there.</li>
              <li>Open this page with <code>?key=ar_pk_live_…</code> (optionally <code>&amp;theme=dark</code>,
                <code>&amp;position=bottom-left</code>), or paste the key here:</li>
            </ol>
            <form method="get">
              <input name="key" placeholder="ar_pk_live_…" aria-label="Publishable key" autocomplete="off" spellcheck="false">
              <button type="submit">Preview</button>
            </form>
            <h2>Embed code for your website</h2>
            <pre><code id="embed"></code></pre>
          </div>
        </main>
        <script type="application/json" id="cmp-demo">{{DATA}}</script>
        <script src="{{LOADER}}"></script>
        <script nonce="{{NONCE}}">
          (function () {
            var data = JSON.parse(document.getElementById('cmp-demo').textContent);
            document.getElementById('agent-name').textContent = data.agent_name;
            document.getElementById('host').textContent = data.host;
            document.getElementById('embed').textContent = data.embed_code;
            var query = new URLSearchParams(location.search);
            var key = (query.get('key') || '').trim();
            if (!key) {
              return;
            }
            document.querySelector('input[name=key]').value = key;
            var status = document.getElementById('status');
            if (key.indexOf('ar_sk_') === 0) {
              status.textContent = 'That is a secret key: never put it in a web page. Revoke it and create a publishable key.';
              return;
            }
            status.textContent = 'The widget is running below with your key (bottom corner of the page).';
            window.WaldurWidget.init({ widget_id: data.widget_id, api_key: key, theme: query.get('theme') || undefined, position: query.get('position') || undefined, open: true });
          })();
        </script>
        </body>
        </html>
        """;
}
