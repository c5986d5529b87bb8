using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Diagnostics;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// Bodies for answers that have none (an unknown route, a wrong method): problem details for the API and any other
/// client, and the Not found page (status 404) for a browser asking for a page that is not there.
/// </summary>
public static class StatusCodeResponses
{
    /// <summary>Where the web UI's Not found page lives (<c>Components/Shared/NotFoundPage.razor</c>).</summary>
    public const string NotFoundPath = "/not-found";

    /// <remarks>
    /// On the application itself, not in a branch: re-executing needs the application's routes, which a branch
    /// (<c>UseWhen</c>) does not see.
    /// </remarks>
    public static WebApplication UseStatusCodeResponses(this WebApplication app)
    {
        // Outer: a page's 404 that the inner handler left without a body is answered by running the Not found page's
        // request in its own scope; the status stays 404.
        app.UseStatusCodePagesWithReExecute(NotFoundPath, createScopeForStatusCodePages: true);
        // Between the two: anything but a page request never reaches the Not found page.
        app.Use((context, next) =>
        {
            if (!IsPageRequest(context) && context.Features.Get<IStatusCodePagesFeature>() is { } outer)
            {
                outer.Enabled = false;
            }
            return next(context);
        });
        // Inner: everything else gets the problem details it always got.
        var problem = new StatusCodePagesOptions().HandleAsync;
        app.UseStatusCodePages(new StatusCodePagesOptions
        {
            HandleAsync = context =>
                context.HttpContext.Response.StatusCode == StatusCodes.Status404NotFound && IsPageRequest(context.HttpContext)
                    ? Task.CompletedTask
                    : problem(context),
        });
        return app;
    }

    /// <summary>A browser loading a page: a GET or HEAD outside the API's paths that accepts HTML.</summary>
    public static bool IsPageRequest(HttpContext context)
    {
        var request = context.Request;
        return (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            && !CookieSignIn.IsApiPath(request.Path)
            && request.Headers.Accept.Any(a => a is not null && a.Contains("text/html", StringComparison.OrdinalIgnoreCase));
    }
}
