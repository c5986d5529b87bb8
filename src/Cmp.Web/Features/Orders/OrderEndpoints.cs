using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Orders;

public sealed record OrderRequest(string? Offering, string? Plan, string? Project, string? Name);
public sealed record OrderDto(
    string Uuid, string Url, string State, string OfferingUuid, string OfferingName, string PlanUuid, string ProjectUuid, string CustomerUuid,
    string ProviderUuid, int FlowVersion, DateTime Created, string CreatedByUuid, string? ConsumerReviewedByUuid, DateTime? ConsumerReviewedAt,
    string? ProviderReviewedByUuid, DateTime? ProviderReviewedAt, string? ErrorMessage, string? ResourceUuid, string? Name,
    string? CanceledByUuid, DateTime? CanceledAt, DateTime? CompletedAt);
public sealed record SwitchPlanRequest(string? Plan);
public sealed record ResourceDto(
    string Uuid, string Url, string Name, string State, string OfferingUuid, string OfferingName, string PlanUuid, string ProjectUuid,
    string CustomerUuid, int FlowVersion, string? ConfigUuid, DateTime Created, DateTime? TerminatedAt);

public static partial class OrderEndpoints
{
    public static IServiceCollection AddOrders(this IServiceCollection services) => services.AddHostedService<OrderRecovery>();

    public static IEndpointRouteBuilder MapOrderEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/marketplace-orders").WithTags("Orders").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListOrders");
        g.MapPost("/", CreateAsync).WithName("CreateOrder");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetOrder");
        g.MapPost("/{uuid}/approve_by_consumer/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct) =>
            ActAsync(uuid, OrderAction.ApproveByConsumer, ctx, db, access, mail, ct)).WithName("ApproveOrderByConsumer");
        g.MapPost("/{uuid}/approve_by_provider/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct) =>
            ActAsync(uuid, OrderAction.ApproveByProvider, ctx, db, access, mail, ct)).WithName("ApproveOrderByProvider");
        g.MapPost("/{uuid}/reject_by_consumer/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct) =>
            ActAsync(uuid, OrderAction.RejectByConsumer, ctx, db, access, mail, ct)).WithName("RejectOrderByConsumer");
        g.MapPost("/{uuid}/reject_by_provider/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct) =>
            ActAsync(uuid, OrderAction.RejectByProvider, ctx, db, access, mail, ct)).WithName("RejectOrderByProvider");
        g.MapPost("/{uuid}/cancel/", (string uuid, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct) =>
            ActAsync(uuid, OrderAction.Cancel, ctx, db, access, mail, ct)).WithName("CancelOrder");

        var r = app.MapGroup("/api/marketplace-resources").WithTags("Resources").RequireAuthorization();
        r.MapGet("/", ListResourcesAsync).WithName("ListResources");
        r.MapGet("/{uuid}/", GetResourceAsync).WithName("GetResource");
        r.MapPost("/{uuid}/terminate/", TerminateAsync).WithName("TerminateResource");
        r.MapPost("/{uuid}/switch_plan/", SwitchPlanAsync).WithName("SwitchResourcePlan");
        return app;
    }

    /// <summary>EXECUTING → DONE | ERRED (kept for callers of the endpoint class; the rule is <see cref="OrderOperations.FulfilAsync"/>).</summary>
    internal static Task FulfilAsync(CmpDbContext db, Guid orderId, TimeProvider time, CancellationToken ct) => OrderOperations.FulfilAsync(db, orderId, time, ct);

    private static OrderDto ToDto(OrderRow r, HttpContext ctx)
    {
        var o = r.Order;
        return new OrderDto(o.Id.Hex(), Refs.Url(ctx, "marketplace-orders", o.Id), o.State.Screaming(), r.OfferingId.Hex(), r.OfferingName, o.PlanId.Hex(),
            o.ProjectId.Hex(), o.CustomerId.Hex(), r.ProviderId.Hex(), r.VersionNumber, o.CreatedAt, o.CreatedById.Hex(), o.ConsumerReviewedById?.Hex(),
            o.ConsumerReviewedAt, o.ProviderReviewedById?.Hex(), o.ProviderReviewedAt, o.ErrorMessage, o.ResourceId?.Hex(), o.Name,
            o.CanceledById?.Hex(), o.CanceledAt, o.CompletedAt);
    }

    private static async Task<Results<Ok<List<OrderDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? state, string? customer_uuid, string? provider_uuid, string? offering_uuid, bool? can_approve_as_consumer, bool? can_approve_as_provider,
        HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var selected = OrderOperations.Query(db, access, new OrderFilter(state, customer_uuid, provider_uuid, can_approve_as_consumer, can_approve_as_provider, offering_uuid));
        if (!selected.Ok)
        {
            return selected.ToProblemResult();
        }
        var ordering = new Ordering<OrderRow>("-created").Field("created", r => r.Order.CreatedAt).Field("state", r => r.Order.State).Tiebreak(r => r.Order.Id);
        if (!ordering.TryApply(selected.Value!.Rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Results<Ok<OrderDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await OrderOperations.FindAsync(db, access, uuid, ct);
        return row is null ? Problems.NotFound("order") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Created<OrderDto>, ProblemHttpResult>> CreateAsync(
        OrderRequest body, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, TimeProvider time, CancellationToken ct)
    {
        var outcome = await OrderOperations.CreateAsync(db, access, mail, Refs.BaseUrl(ctx), time, body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = ToDto(outcome.Value!, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<OrderDto>, ProblemHttpResult>> ActAsync(
        string uuid, OrderAction action, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct)
    {
        var outcome = await OrderOperations.ActAsync(db, access, mail, Refs.BaseUrl(ctx), ctx.RequestServices.GetRequiredService<TimeProvider>(), uuid, action, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }
}
