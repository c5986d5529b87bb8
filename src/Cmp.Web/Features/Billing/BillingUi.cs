using System.Text;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Billing;

/// <summary>
/// The web UI's own billing endpoint: <c>GET /customer/invoices/{uuid}/csv</c>, the printable invoice page's "Download
/// CSV". It is signed in with the console's cookie (the API's <c>/api/invoices/{uuid}/csv/</c> takes tokens only) and
/// answers exactly what the API answers: the same <see cref="InvoiceOperations.GetAsync"/> (another organization's
/// invoice is a 404), <see cref="InvoiceOperations.Csv"/> and <see cref="InvoiceOperations.CsvFileName"/>.
/// </summary>
public static class BillingUi
{
    public static IEndpointRouteBuilder MapBillingUi(this IEndpointRouteBuilder app)
    {
        // A console link: a signed-out browser is sent to sign in (typed results would otherwise mark it an API endpoint,
        // which .NET 10's cookie handler answers with a bare 401).
        app.MapGet("/customer/invoices/{uuid}/csv", CsvAsync).RequireAuthorization().AllowCookieRedirect().ExcludeFromDescription();
        return app;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> CsvAsync(
        string uuid, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        var outcome = await InvoiceOperations.GetAsync(db, access, uuid, time.GetUtcNow().UtcDateTime, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        // An invoice is the organization's business: no shared cache keeps a copy.
        ctx.Response.Headers.CacheControl = "no-store";
        return TypedResults.File(Encoding.UTF8.GetBytes(InvoiceOperations.Csv(outcome.Value!)), "text/csv; charset=utf-8", InvoiceOperations.CsvFileName(outcome.Value!));
    }
}
