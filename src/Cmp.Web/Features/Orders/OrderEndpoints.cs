using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

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

    private enum OrderAction
    {
        ApproveByConsumer,
        ApproveByProvider,
        RejectByConsumer,
        RejectByProvider,
        Cancel,
    }

    private sealed class Row
    {
        public required Order Order { get; init; }
        public required Guid OfferingId { get; init; }
        public required string OfferingName { get; init; }
        public required Guid ProviderId { get; init; }
        public required Guid ProviderCustomerId { get; init; }
        public required int VersionNumber { get; init; }
    }

    /// <summary>Orders the caller may see: as the buying organization's member, or as the selling provider's.</summary>
    private static IQueryable<Row> Visible(CmpDbContext db, Access access)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        var orders = access.IsStaff
            ? db.Orders
            : db.Orders.Where(o => customers.Contains(o.CustomerId) || customers.Contains(o.Agent.ServiceProvider.CustomerId));
        return orders.Select(o => new Row
        {
            Order = o,
            OfferingId = o.Agent.OfferingId,
            OfferingName = o.Agent.Name,
            ProviderId = o.Agent.ServiceProviderId,
            ProviderCustomerId = o.Agent.ServiceProvider.CustomerId,
            VersionNumber = db.FlowVersions.Where(v => v.Id == o.FlowVersionId).Select(v => v.Number).First(),
        });
    }

    private static OrderDto ToDto(Row r, HttpContext ctx)
    {
        var o = r.Order;
        return new OrderDto(o.Id.Hex(), Refs.Url(ctx, "marketplace-orders", o.Id), o.State.Screaming(), r.OfferingId.Hex(), r.OfferingName, o.PlanId.Hex(),
            o.ProjectId.Hex(), o.CustomerId.Hex(), r.ProviderId.Hex(), r.VersionNumber, o.CreatedAt, o.CreatedById.Hex(), o.ConsumerReviewedById?.Hex(),
            o.ConsumerReviewedAt, o.ProviderReviewedById?.Hex(), o.ProviderReviewedAt, o.ErrorMessage, o.ResourceId?.Hex(), o.Name,
            o.CanceledById?.Hex(), o.CanceledAt, o.CompletedAt);
    }

    private static async Task<Results<Ok<List<OrderDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? state, string? customer_uuid, string? provider_uuid, bool? can_approve_as_consumer, bool? can_approve_as_provider,
        HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var rows = Visible(db, access).AsNoTracking();
        if (state is not null)
        {
            if (!WireNames.TryParseScreaming<OrderState>(state, out var parsed))
            {
                return Problems.Validation("state", "Choose one of: " + string.Join(", ", Enum.GetValues<OrderState>().Select(s => s.Screaming())) + ".");
            }
            rows = rows.Where(r => r.Order.State == parsed);
        }
        if (customer_uuid is not null)
        {
            if (!Refs.TryParse(customer_uuid, out var id))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.Order.CustomerId == id);
        }
        if (provider_uuid is not null)
        {
            if (!Refs.TryParse(provider_uuid, out var id))
            {
                return Problems.Validation("provider_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.ProviderId == id);
        }
        var me = access.UserId;
        var approvers = Roles.CustomerRolesWith(Permission.ApproveOrder);
        if (can_approve_as_consumer == true)
        {
            rows = rows.Where(r => r.Order.State == OrderState.PendingConsumer
                && (access.IsStaff || db.CustomerPermissions.Any(p => p.CustomerId == r.Order.CustomerId && p.UserId == me && approvers.Contains(p.Role))));
        }
        if (can_approve_as_provider == true)
        {
            rows = rows.Where(r => r.Order.State == OrderState.PendingProvider
                && (access.IsStaff || db.CustomerPermissions.Any(p => p.CustomerId == r.ProviderCustomerId && p.UserId == me && approvers.Contains(p.Role))));
        }
        var ordering = new Ordering<Row>("-created").Field("created", r => r.Order.CreatedAt).Field("state", r => r.Order.State).Tiebreak(r => r.Order.Id);
        if (!ordering.TryApply(rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Row?> FindAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await Visible(db, access).AsNoTracking().FirstOrDefaultAsync(r => r.Order.Id == id, ct) : null;

    private static async Task<Results<Ok<OrderDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindAsync(uuid, db, access, ct);
        return row is null ? Problems.NotFound("order") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Created<OrderDto>, ProblemHttpResult>> CreateAsync(
        OrderRequest body, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150);
        Project? project = null;
        if (!Refs.TryParse(body.Project, out var projectId) || (project = await access.VisibleProjects().FirstOrDefaultAsync(p => p.Id == projectId, ct)) is null)
        {
            errors.Add("project", "No project with this uuid is visible to you.");
        }
        ProviderAgent? agent = null;
        if (!Refs.TryParse(body.Offering, out var offeringId) || (agent = await db.ProviderAgents.Include(a => a.ServiceProvider).FirstOrDefaultAsync(a => a.OfferingId == offeringId, ct)) is null
            || (agent.State == OfferingState.Draft && !await access.VisibleCustomers().AnyAsync(c => c.Id == agent.ServiceProvider.CustomerId, ct)))
        {
            // A draft has never been public: to anyone outside the selling organization it does not exist.
            agent = null;
            errors.Add("offering", "No offering with this uuid.");
        }
        Plan? plan = null;
        if (agent is not null && (!Refs.TryParse(body.Plan, out var planId) || (plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == planId && p.AgentId == agent.Id, ct)) is null))
        {
            errors.Add("plan", "No plan with this uuid belongs to the offering.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (!await access.HasProjectPermissionAsync(project!.Id, Permission.CreateOrder, ct))
        {
            return Problems.Forbidden("Placing an order needs a role in the project.");
        }
        if (agent!.State != OfferingState.Active || agent.CurrentFlowVersionId is null)
        {
            return Problems.Conflict($"Only ACTIVE offerings take new orders; this one is {agent.State.Screaming()}.", ProblemTypes.InvalidTransition);
        }
        if (plan!.ArchivedAt is not null)
        {
            return Problems.Validation("plan", "This plan is archived and takes no new orders.");
        }
        var consumerApproved = await access.HasCustomerPermissionAsync(project.CustomerId, Permission.ApproveOrder, ct);
        var now = DateTime.UtcNow;
        var order = new Order
        {
            AgentId = agent.Id,
            PlanId = plan.Id,
            ProjectId = project.Id,
            CustomerId = project.CustomerId,
            FlowVersionId = agent.CurrentFlowVersionId.Value,
            CreatedById = access.UserId,
            Name = string.IsNullOrWhiteSpace(name) ? null : name,
            State = !consumerApproved ? OrderState.PendingConsumer : agent.RequiresProviderApproval ? OrderState.PendingProvider : OrderState.Executing,
        };
        if (consumerApproved)
        {
            order.ConsumerReviewedById = access.UserId;
            order.ConsumerReviewedAt = now;
        }
        db.Orders.Add(order);
        await db.SaveChangesAsync(ct);
        if (order.State == OrderState.Executing)
        {
            // Not the request's token: once EXECUTING is saved the order is finished even if the client has gone.
            await FulfilAsync(db, order.Id, CancellationToken.None);
        }
        else
        {
            await NotifyApproversAsync(db, mail, ctx, order, agent, ct);
        }
        var row = (await FindAsync(order.Id.Hex(), db, access, ct))!;
        var dto = ToDto(row, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    /// <summary>Mails everyone who can take the order's next step.</summary>
    private static async Task NotifyApproversAsync(CmpDbContext db, EmailSender mail, HttpContext ctx, Order order, ProviderAgent agent, CancellationToken ct)
    {
        var customerId = order.State == OrderState.PendingConsumer ? order.CustomerId : agent.ServiceProvider.CustomerId;
        var roles = Roles.CustomerRolesWith(Permission.ApproveOrder);
        var emails = await db.CustomerPermissions.Where(p => p.CustomerId == customerId && roles.Contains(p.Role)).Select(p => p.User.Email).Distinct().ToListAsync(ct);
        var side = order.State == OrderState.PendingConsumer ? "consumer" : "provider";
        foreach (var email in emails)
        {
            await mail.SendAsync(email, $"An order for {agent.Name} waits for your approval",
                $"""
                An order for "{agent.Name}" waits for approval by the {side}.

                Review it: {Refs.BaseUrl(ctx)}/api/marketplace-orders/{order.Id:N}/
                Approve:   POST {Refs.BaseUrl(ctx)}/api/marketplace-orders/{order.Id:N}/approve_by_{side}/
                Reject:    POST {Refs.BaseUrl(ctx)}/api/marketplace-orders/{order.Id:N}/reject_by_{side}/
                """, ct);
        }
    }

    /// <summary>
    /// EXECUTING → DONE: creates the resource and its agent config, pinned to the order's flow version,
    /// in one transaction. A failure ends the order ERRED with the reason.
    /// </summary>
    internal static async Task FulfilAsync(CmpDbContext db, Guid orderId, CancellationToken ct)
    {
        var order = await db.Orders.Include(o => o.Agent).FirstAsync(o => o.Id == orderId, ct);
        try
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var now = DateTime.UtcNow;
            var resource = new Resource
            {
                OrderId = order.Id,
                AgentId = order.AgentId,
                PlanId = order.PlanId,
                ProjectId = order.ProjectId,
                CustomerId = order.CustomerId,
                Name = order.Name ?? order.Agent.Name,
                State = ResourceState.Ok,
                FlowVersionId = order.FlowVersionId,
                ActivatedAt = now,
            };
            db.Resources.Add(resource);
            PlanPeriods.Open(db, resource.Id, resource.PlanId, now);
            db.AgentConfigs.Add(new CustomerAgentConfig { ResourceId = resource.Id, CustomerId = order.CustomerId, AgentName = order.Agent.Name.Length > 80 ? order.Agent.Name[..80] : order.Agent.Name });
            await db.SaveChangesAsync(ct);
            var moved = await db.Orders.Where(o => o.Id == order.Id && o.State == OrderState.Executing)
                .ExecuteUpdateAsync(s => s.SetProperty(o => o.State, OrderState.Done).SetProperty(o => o.ResourceId, resource.Id)
                    .SetProperty(o => o.CompletedAt, now).SetProperty(o => o.Version, Guid.NewGuid()), ct);
            if (moved != 1)
            {
                await tx.RollbackAsync(ct);
                return;
            }
            await tx.CommitAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            db.ChangeTracker.Clear();
            var reason = ex.Message.Length > 2000 ? ex.Message[..2000] : ex.Message;
            await db.Orders.Where(o => o.Id == orderId && o.State == OrderState.Executing)
                .ExecuteUpdateAsync(s => s.SetProperty(o => o.State, OrderState.Erred).SetProperty(o => o.ErrorMessage, reason).SetProperty(o => o.Version, Guid.NewGuid()), CancellationToken.None);
        }
    }

    private static async Task<Results<Ok<OrderDto>, ProblemHttpResult>> ActAsync(
        string uuid, OrderAction action, HttpContext ctx, CmpDbContext db, Access access, EmailSender mail, CancellationToken ct)
    {
        var row = await FindAsync(uuid, db, access, ct);
        if (row is null)
        {
            return Problems.NotFound("order");
        }
        var order = row.Order;
        var me = access.UserId;
        var now = DateTime.UtcNow;
        var consumerApprover = await access.HasCustomerPermissionAsync(order.CustomerId, Permission.ApproveOrder, ct);
        var providerApprover = await access.HasCustomerPermissionAsync(row.ProviderCustomerId, Permission.ApproveOrder, ct);
        var agent = await db.ProviderAgents.Include(a => a.ServiceProvider).FirstAsync(a => a.Id == order.AgentId, ct);
        var orders = db.Orders.Where(o => o.Id == order.Id);
        int moved;
        OrderState target;
        switch (action)
        {
            case OrderAction.ApproveByConsumer:
                if (!consumerApprover)
                {
                    return Problems.Forbidden("Approving as the consumer needs APPROVE_ORDER in the buying organization.");
                }
                target = agent.RequiresProviderApproval ? OrderState.PendingProvider : OrderState.Executing;
                moved = await orders.Where(o => o.State == OrderState.PendingConsumer).ExecuteUpdateAsync(s => s.SetProperty(o => o.State, target)
                    .SetProperty(o => o.ConsumerReviewedById, me).SetProperty(o => o.ConsumerReviewedAt, now).SetProperty(o => o.Version, Guid.NewGuid()), ct);
                break;
            case OrderAction.ApproveByProvider:
                if (!providerApprover)
                {
                    return Problems.Forbidden("Approving as the provider needs APPROVE_ORDER in the selling organization.");
                }
                target = OrderState.Executing;
                moved = await orders.Where(o => o.State == OrderState.PendingProvider).ExecuteUpdateAsync(s => s.SetProperty(o => o.State, target)
                    .SetProperty(o => o.ProviderReviewedById, me).SetProperty(o => o.ProviderReviewedAt, now).SetProperty(o => o.Version, Guid.NewGuid()), ct);
                break;
            case OrderAction.RejectByConsumer:
                if (!consumerApprover)
                {
                    return Problems.Forbidden("Rejecting as the consumer needs APPROVE_ORDER in the buying organization.");
                }
                target = OrderState.Rejected;
                moved = await orders.Where(o => o.State == OrderState.PendingConsumer).ExecuteUpdateAsync(s => s.SetProperty(o => o.State, target)
                    .SetProperty(o => o.ConsumerReviewedById, me).SetProperty(o => o.ConsumerReviewedAt, now).SetProperty(o => o.Version, Guid.NewGuid()), ct);
                break;
            case OrderAction.RejectByProvider:
                if (!providerApprover)
                {
                    return Problems.Forbidden("Rejecting as the provider needs APPROVE_ORDER in the selling organization.");
                }
                target = OrderState.Rejected;
                moved = await orders.Where(o => o.State == OrderState.PendingProvider).ExecuteUpdateAsync(s => s.SetProperty(o => o.State, target)
                    .SetProperty(o => o.ProviderReviewedById, me).SetProperty(o => o.ProviderReviewedAt, now).SetProperty(o => o.Version, Guid.NewGuid()), ct);
                break;
            default:
                if (order.CreatedById != me && !consumerApprover)
                {
                    return Problems.Forbidden("Only the order's creator or an approver of the buying organization may cancel it.");
                }
                target = OrderState.Canceled;
                moved = await orders.Where(o => o.State == OrderState.PendingConsumer || o.State == OrderState.PendingProvider)
                    .ExecuteUpdateAsync(s => s.SetProperty(o => o.State, target).SetProperty(o => o.CanceledById, me).SetProperty(o => o.CanceledAt, now)
                        .SetProperty(o => o.Version, Guid.NewGuid()), ct);
                break;
        }
        if (moved != 1)
        {
            var current = await db.Orders.Where(o => o.Id == order.Id).Select(o => o.State).FirstAsync(ct);
            return Problems.Conflict($"The order is {current.Screaming()}; this action does not apply (another request may have acted first).", ProblemTypes.InvalidTransition);
        }
        if (target == OrderState.Executing)
        {
            await FulfilAsync(db, order.Id, CancellationToken.None);
        }
        else if (target == OrderState.PendingProvider)
        {
            order.State = target;
            await NotifyApproversAsync(db, mail, ctx, order, agent, ct);
        }
        return TypedResults.Ok(ToDto((await FindAsync(uuid, db, access, ct))!, ctx));
    }

}
