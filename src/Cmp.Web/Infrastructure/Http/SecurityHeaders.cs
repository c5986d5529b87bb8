using Microsoft.Net.Http.Headers;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// Headers on every answer: <c>X-Content-Type-Options: nosniff</c> everywhere; <c>Cache-Control: no-store</c> on the
/// API's answers (they carry keys, tokens, invoices and other organizations' business; an endpoint that sets its own
/// cache policy keeps it); on pages, a policy that no other site may frame them (<c>frame-ancestors 'self'</c>,
/// <c>X-Frame-Options</c>), no plugins and no foreign base URL, and a referrer that leaves only the origin. Pages that
/// set a stricter policy of their own (the widget's demo and preview) keep it. Kestrel sends no <c>Server</c> header
/// (Program.cs).
/// </summary>
public static class SecurityHeaders
{
    public const string PagePolicy = "frame-ancestors 'self'; object-src 'none'; base-uri 'self'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var response = context.Response;
            var headers = response.Headers;
            headers.XContentTypeOptions = "nosniff";
            var path = context.Request.Path;
            if (path.StartsWithSegments("/api") || path.StartsWithSegments("/api-auth"))
            {
                if (!headers.ContainsKey(HeaderNames.CacheControl))
                {
                    headers.CacheControl = "no-store";
                }
            }
            else if (response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
            {
                if (!headers.ContainsKey(HeaderNames.ContentSecurityPolicy))
                {
                    headers.ContentSecurityPolicy = PagePolicy;
                }
                if (!headers.ContainsKey(HeaderNames.XFrameOptions))
                {
                    headers.XFrameOptions = "SAMEORIGIN";
                }
                if (!headers.ContainsKey("Referrer-Policy"))
                {
                    headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
                }
            }
            return Task.CompletedTask;
        });
        return next(context);
    });
}
