using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Billing;

public sealed record InvoiceItemDto(
    string ResourceUuid, string ResourceName, string OfferingUuid, string OfferingName, string PlanUuid, string PlanName, string ComponentName,
    string BillingType, string Unit, string Quantity, string UnitPrice, int? DaysInMonth, string Total, DateTime Start, DateTime End);

public sealed record InvoiceDto(
    string Uuid, string Url, string CustomerUuid, string CustomerName, int Year, int Month, string Currency, string State,
    IReadOnlyList<InvoiceItemDto> Items, string Total, DateTime Created, DateTime? ClosedAt, DateTime? PaidAt, DateTime? CanceledAt);

public sealed record OfferingRevenueDto(string OfferingUuid, string Name, string Gross, long Invocations);

public sealed record RevenueDto(
    string ProviderUuid, int Year, int Month, string Currency, string Gross, string PlatformFeePercent, string PlatformFee, string Net,
    IReadOnlyList<OfferingRevenueDto> Offerings, IReadOnlyList<string> Currencies);

public sealed record ComponentUsageDto(
    string ResourceUuid, string ResourceName, string OfferingUuid, string OfferingName, string PlanUuid, string PlanName, string ComponentName,
    string BillingType, string MeasuredUnit, long Usage, long? LimitAmount, long Invocations, long Tokens, string BillingPeriod);

/// <summary>
/// <c>/api/invoices/</c> (list, detail, <c>csv/</c>, staff's <c>paid/</c> and <c>cancel/</c>),
/// <c>/api/marketplace-component-usages/</c>, and the revenue route on the providers' group. The rules are
/// <see cref="InvoiceOperations"/>', <see cref="RevenueOperations"/>' and <see cref="ComponentUsageOperations"/>'.
/// </summary>
public static class InvoiceEndpoints
{
    public static IEndpointRouteBuilder MapInvoiceEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/invoices").WithTags("Invoices").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListInvoices");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetInvoice");
        g.MapGet("/{uuid}/csv/", CsvAsync).WithName("GetInvoiceCsv");
        g.MapPost("/{uuid}/paid/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct) =>
            MarkAsync(uuid, InvoiceState.Paid, ctx, db, access, time, ct)).WithName("MarkInvoicePaid");
        g.MapPost("/{uuid}/cancel/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct) =>
            MarkAsync(uuid, InvoiceState.Canceled, ctx, db, access, time, ct)).WithName("CancelInvoice");

        app.MapGroup("/api/marketplace-component-usages").WithTags("Invoices").RequireAuthorization()
            .MapGet("/", ComponentUsagesAsync).WithName("ListComponentUsages");
        return app;
    }

    /// <summary>Maps <c>{uuid}/revenue/</c> on the providers' group (which owns <c>/api/marketplace-service-providers</c>).</summary>
    public static RouteGroupBuilder MapRevenueEndpoints(this RouteGroupBuilder providers)
    {
        providers.MapGet("/{uuid}/revenue/", RevenueAsync).WithName("GetServiceProviderRevenue");
        return providers;
    }

    private static async Task<Results<Ok<List<InvoiceDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? customer_uuid, string? year, string? month, string? state, string? currency,
        HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var outcome = await InvoiceOperations.QueryAsync(db, access, new InvoiceFilter(customer_uuid, year, month, state, currency), time.GetUtcNow().UtcDateTime, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        if (!InvoiceOperations.Ordering.TryApply(outcome.Value!.Invoices, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        var views = await InvoiceOperations.ViewsAsync(db, page, ct);
        return TypedResults.Ok(views.Select(v => ToDto(v, ctx)).ToList());
    }

    private static async Task<Results<Ok<InvoiceDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        var outcome = await InvoiceOperations.GetAsync(db, access, uuid, time.GetUtcNow().UtcDateTime, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> CsvAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        var outcome = await InvoiceOperations.GetAsync(db, access, uuid, time.GetUtcNow().UtcDateTime, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        ctx.Response.Headers.CacheControl = "no-store"; // an organization's bill: no shared cache keeps a copy
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(InvoiceOperations.Csv(outcome.Value!)), "text/csv; charset=utf-8", InvoiceOperations.CsvFileName(outcome.Value!));
    }

    private static async Task<Results<Ok<InvoiceDto>, ProblemHttpResult>> MarkAsync(
        string uuid, InvoiceState to, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        var outcome = await InvoiceOperations.MarkAsync(db, access, uuid, to, time.GetUtcNow().UtcDateTime, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }

    private static async Task<Results<Ok<RevenueDto>, ProblemHttpResult>> RevenueAsync(
        string uuid, string? year, string? month, string? currency, CmpDbContext db, Access access, PlatformSettings settings, TimeProvider time, CancellationToken ct)
    {
        var outcome = await RevenueOperations.RevenueAsync(db, access, uuid, year, month, currency, settings.PlatformFeePercent, time.GetUtcNow().UtcDateTime, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var r = outcome.Value!;
        string M(decimal amount) => new Money(amount, r.Currency).Format();
        return TypedResults.Ok(new RevenueDto(r.ProviderId.Hex(), r.Month.Year, r.Month.Month, r.Currency, M(r.Gross), InvoiceOperations.Plain(r.FeePercent),
            M(r.PlatformFee), M(r.Net), r.Offerings.Select(o => new OfferingRevenueDto(o.OfferingId.Hex(), o.Name, M(o.Gross), o.Invocations)).ToList(), r.Currencies));
    }

    private static async Task<Results<Ok<List<ComponentUsageDto>>, ProblemHttpResult>> ComponentUsagesAsync(
        ListQuery query, string? resource_uuid, string? billing_period, HttpContext ctx, CmpDbContext db, Access access, TimeProvider time, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var outcome = await ComponentUsageOperations.ListAsync(db, access, resource_uuid, billing_period, time.GetUtcNow().UtcDateTime, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var all = outcome.Value!;
        Paging.WriteHeaders(ctx, all.Count, query);
        return TypedResults.Ok(all.Skip((query.Page - 1) * query.PageSize).Take(query.PageSize).Select(u => new ComponentUsageDto(
            u.ResourceId.Hex(), u.ResourceName, u.OfferingId.Hex(), u.OfferingName, u.PlanId.Hex(), u.PlanName, u.ComponentName, u.BillingType.Screaming(),
            u.MeasuredUnit, u.Usage, u.LimitAmount, u.Invocations, u.Tokens, u.Month.Period)).ToList());
    }

    public static InvoiceDto ToDto(InvoiceView view, HttpContext ctx)
    {
        var i = view.Invoice;
        string M(decimal amount) => new Money(amount, i.Currency).Format();
        return new InvoiceDto(i.Id.Hex(), Refs.Url(ctx, "invoices", i.Id), i.CustomerId.Hex(), view.CustomerName, i.Year, i.Month, i.Currency,
            i.State.ToString().ToLowerInvariant(),
            view.Lines.Select(l => new InvoiceItemDto(l.ResourceId.Hex(), l.ResourceName, l.OfferingId.Hex(), l.OfferingName, l.PlanId.Hex(), l.PlanName,
                l.ComponentName, l.BillingType.Screaming(), l.Unit, InvoiceOperations.Plain(l.Quantity), M(l.UnitPrice), l.DaysInMonth, M(l.Total), l.Start, l.End)).ToList(),
            M(view.Total), i.CreatedAt, i.ClosedAt, i.PaidAt, i.CanceledAt);
    }
}
