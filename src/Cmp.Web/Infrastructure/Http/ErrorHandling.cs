using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// The one place unexpected failures become problem details. Bad request bodies are the
/// client's fault (400); a lost optimistic-concurrency race is a 409; anything else is a 500
/// whose body says nothing about the internals.
/// </summary>
internal sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem;
        switch (exception)
        {
            case BadHttpRequestException { InnerException: ControlCharacterException control }:
                // Refused at the edge, named like any other field error: "$.components[0].name" → "components[0].name".
                var field = control.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "non_field_errors";
                var message = control.Message.Split(" Path:")[0];
                problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
                {
                    Status = 400,
                    Type = ProblemTypes.Validation,
                    Title = "One or more fields are invalid.",
                    Detail = $"{field}: {message}",
                };
                break;
            case BadHttpRequestException bad:
                problem = new ProblemDetails
                {
                    Status = bad.StatusCode,
                    Type = bad.StatusCode == 400 ? ProblemTypes.MalformedRequest : ProblemTypes.ForStatus(bad.StatusCode),
                    Title = "The request could not be read.",
                    Detail = bad.InnerException is JsonException
                        ? "The request body is not valid JSON for this endpoint."
                        : "The request is malformed: " + bad.Message,
                };
                break;
            case DbUpdateConcurrencyException:
                problem = new ProblemDetails
                {
                    Status = 409,
                    Type = ProblemTypes.Conflict,
                    Title = "Conflict.",
                    Detail = "The object was changed by another request at the same time; reload it and try again.",
                };
                break;
            case OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested:
                // The client went away; there is no one to answer.
                return true;
            default:
                logger.LogError(exception, "Unhandled exception for {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
                problem = new ProblemDetails
                {
                    Status = 500,
                    Type = ProblemTypes.Internal,
                    Title = "An unexpected error occurred.",
                    Detail = "The server failed to complete the request. The trace id identifies it in the server log.",
                };
                break;
        }
        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = null, // never let the exception reach the body
        });
    }
}

public static class ErrorHandlingExtensions
{
    public static IServiceCollection AddProblemResponses(this IServiceCollection services)
    {
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var p = ctx.ProblemDetails;
            var status = p.Status ?? ctx.HttpContext.Response.StatusCode;
            if (p.Type is null || p.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
            {
                p.Type = status == 400 && p is HttpValidationProblemDetails ? ProblemTypes.Validation : ProblemTypes.ForStatus(status);
            }
            p.Extensions.Remove("exception");
            p.Extensions.Remove("traceId");
            p.Extensions["trace_id"] = ctx.HttpContext.TraceIdentifier;
        });
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }
}
