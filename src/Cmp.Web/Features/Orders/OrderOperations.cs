using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Orders;

/// <summary>An order with what its pages and DTO show of the agent it buys.</summary>
public sealed class OrderRow
{
    public required Order Order { get; init; }
    public required Guid OfferingId { get; init; }
    public required string OfferingName { get; init; }
    public required Guid ProviderId { get; init; }
    public required Guid ProviderCustomerId { get; init; }
    public required int VersionNumber { get; init; }
}

/// <summary>The list filters of <c>GET /api/marketplace-orders/</c>, as given (validated by <see cref="OrderOperations.Query"/>).</summary>
public sealed record OrderFilter(
    string? State = null, string? CustomerUuid = null, string? ProviderUuid = null, bool? CanApproveAsConsumer = null, bool? CanApproveAsProvider = null,
    string? OfferingUuid = null);

/// <summary>The orders a filter keeps, still a query (the caller orders and pages it).</summary>
public sealed record OrderSelection(IQueryable<OrderRow> Rows);

/// <summary>
/// The order rules, written once for the API and the web UI: who sees which orders, placing one, and the
/// workflow's actions (<see cref="OrderWorkflow"/>). <c>baseUrl</c> is CMP's public address, for the links in the mails.
/// </summary>
public static class OrderOperations
{
    /// <summary>Orders the caller may see: as the buying organization's member, or as the selling provider's.</summary>
    public static IQueryable<OrderRow> Visible(CmpDbContext db, Access access)
    {
        var customers = access.VisibleCustomers().Select(c => c.Id);
        var orders = access.IsStaff
            ? db.Orders
            : db.Orders.Where(o => customers.Contains(o.CustomerId) || customers.Contains(o.Agent.ServiceProvider.CustomerId));
        return orders.Select(o => new OrderRow
        {
            Order = o,
            OfferingId = o.Agent.OfferingId,
            OfferingName = o.Agent.Name,
            ProviderId = o.Agent.ServiceProviderId,
            ProviderCustomerId = o.Agent.ServiceProvider.CustomerId,
            VersionNumber = db.FlowVersions.Where(v => v.Id == o.FlowVersionId).Select(v => v.Number).First(),
        });
    }

    public static async Task<OrderRow?> FindAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await Visible(db, access).AsNoTracking().FirstOrDefaultAsync(r => r.Order.Id == id, ct) : null;

    /// <summary>The visible orders the filter keeps, or the refusal of the first filter that is not valid.</summary>
    public static Outcome<OrderSelection> Query(CmpDbContext db, Access access, OrderFilter filter)
    {
        var rows = Visible(db, access).AsNoTracking();
        if (filter.State is not null)
        {
            if (!WireNames.TryParseScreaming<OrderState>(filter.State, out var parsed))
            {
                return Problems.Validation("state", "Choose one of: " + string.Join(", ", Enum.GetValues<OrderState>().Select(s => s.Screaming())) + ".");
            }
            rows = rows.Where(r => r.Order.State == parsed);
        }
        if (filter.CustomerUuid is not null)
        {
            if (!Refs.TryParse(filter.CustomerUuid, out var id))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.Order.CustomerId == id);
        }
        if (filter.ProviderUuid is not null)
        {
            if (!Refs.TryParse(filter.ProviderUuid, out var id))
            {
                return Problems.Validation("provider_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.ProviderId == id);
        }
        if (filter.OfferingUuid is not null)
        {
            if (!Refs.TryParse(filter.OfferingUuid, out var id))
            {
                return Problems.Validation("offering_uuid", "Enter a valid uuid.");
            }
            rows = rows.Where(r => r.OfferingId == id);
        }
        var me = access.UserId;
        var approvers = Roles.CustomerRolesWith(Permission.ApproveOrder);
        if (filter.CanApproveAsConsumer == true)
        {
            rows = rows.Where(r => r.Order.State == OrderState.PendingConsumer
                && (access.IsStaff || db.CustomerPermissions.Any(p => p.CustomerId == r.Order.CustomerId && p.UserId == me && approvers.Contains(p.Role))));
        }
        if (filter.CanApproveAsProvider == true)
        {
            rows = rows.Where(r => r.Order.State == OrderState.PendingProvider
                && (access.IsStaff || db.CustomerPermissions.Any(p => p.CustomerId == r.ProviderCustomerId && p.UserId == me && approvers.Contains(p.Role))));
        }
        return new OrderSelection(rows);
    }

    /// <summary>The parts the caller plays for this order (creator, consumer approver, provider approver).</summary>
    public static async Task<OrderRoles> RolesAsync(Access access, OrderRow row, CancellationToken ct) =>
        (await RolesAsync(access, [row], ct))[row.Order.Id];

    /// <summary>The parts the caller plays for each order, by order id (each organization's permission asked once).</summary>
    public static async Task<Dictionary<Guid, OrderRoles>> RolesAsync(Access access, IReadOnlyCollection<OrderRow> rows, CancellationToken ct)
    {
        var approves = new Dictionary<Guid, bool>();
        async Task<bool> ApprovesAsync(Guid customerId)
        {
            if (!approves.TryGetValue(customerId, out var yes))
            {
                approves[customerId] = yes = await access.HasCustomerPermissionAsync(customerId, Permission.ApproveOrder, ct);
            }
            return yes;
        }
        var result = new Dictionary<Guid, OrderRoles>();
        foreach (var row in rows)
        {
            var roles = row.Order.CreatedById == access.UserId ? OrderRoles.Creator : OrderRoles.None;
            if (await ApprovesAsync(row.Order.CustomerId))
            {
                roles |= OrderRoles.ConsumerApprover;
            }
            if (await ApprovesAsync(row.ProviderCustomerId))
            {
                roles |= OrderRoles.ProviderApprover;
            }
            result[row.Order.Id] = roles;
        }
        return result;
    }

    /// <summary>
    /// The agent sold as this offering, if the caller may order it at all: a draft has never been public, so to anyone
    /// outside the selling organization it does not exist. Whether it takes orders now (ACTIVE) is checked on ordering.
    /// </summary>
    public static async Task<ProviderAgent?> FindOfferingAsync(CmpDbContext db, Access access, string? offering, CancellationToken ct)
    {
        if (!Refs.TryParse(offering, out var offeringId))
        {
            return null;
        }
        var agent = await db.ProviderAgents.Include(a => a.ServiceProvider).FirstOrDefaultAsync(a => a.OfferingId == offeringId, ct);
        if (agent is null || (agent.State == OfferingState.Draft && !await access.VisibleCustomers().AnyAsync(c => c.Id == agent.ServiceProvider.CustomerId, ct)))
        {
            return null;
        }
        return agent;
    }

    /// <summary>The projects of an organization in which the caller may place orders.</summary>
    public static async Task<List<Project>> OrderingProjectsAsync(CmpDbContext db, Access access, Guid customerId, CancellationToken ct)
    {
        var projects = await access.VisibleProjects().AsNoTracking().Where(p => p.CustomerId == customerId).OrderBy(p => p.Name).ToListAsync(ct);
        var allowed = new List<Project>();
        foreach (var project in projects)
        {
            if (await access.HasProjectPermissionAsync(project.Id, Permission.CreateOrder, ct))
            {
                allowed.Add(project);
            }
        }
        return allowed;
    }

    /// <summary>
    /// Places an order. The consumer's review is skipped when the caller holds APPROVE_ORDER on the buying organization,
    /// the provider's unless the agent requires it; an order with no review left is fulfilled at once (DONE or ERRED).
    /// </summary>
    public static async Task<Outcome<OrderRow>> CreateAsync(
        CmpDbContext db, Access access, EmailSender mail, string baseUrl, TimeProvider time, OrderRequest body, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150);
        Project? project = null;
        if (!Refs.TryParse(body.Project, out var projectId) || (project = await access.VisibleProjects().FirstOrDefaultAsync(p => p.Id == projectId, ct)) is null)
        {
            errors.Add("project", "No project with this uuid is visible to you.");
        }
        var agent = await FindOfferingAsync(db, access, body.Offering, ct);
        if (agent is null)
        {
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
        var now = time.GetUtcNow().UtcDateTime;
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
            await FulfilAsync(db, order.Id, time, CancellationToken.None);
        }
        else
        {
            await NotifyApproversAsync(db, mail, baseUrl, order, agent, ct);
        }
        return (await FindAsync(db, access, order.Id.Hex(), ct))!;
    }

    /// <summary>
    /// Takes one of the workflow's actions: not found unless visible, 403 unless the caller plays a part the
    /// transition allows, 409 unless the order is still in a from-state. An order that reaches EXECUTING is fulfilled;
    /// one that reaches PENDING_PROVIDER is mailed to the provider's approvers.
    /// </summary>
    public static async Task<Outcome<OrderRow>> ActAsync(
        CmpDbContext db, Access access, EmailSender mail, string baseUrl, TimeProvider time, string? uuid, OrderAction action, CancellationToken ct)
    {
        var row = await FindAsync(db, access, uuid, ct);
        if (row is null)
        {
            return Problems.NotFound("order");
        }
        var order = row.Order;
        var transition = OrderWorkflow.For(action);
        var roles = await RolesAsync(access, row, ct);
        var agent = await db.ProviderAgents.Include(a => a.ServiceProvider).FirstAsync(a => a.Id == order.AgentId, ct);
        if (!transition.AllowedFor(roles))
        {
            return Problems.Forbidden(transition.Refusal);
        }
        var moved = await OrderWorkflow.TryMoveAsync(db, order.Id, transition, transition.Next(agent.RequiresProviderApproval), access.UserId, time.GetUtcNow().UtcDateTime, ct);
        if (!moved.Ok)
        {
            return Outcome<OrderRow>.Fail(moved.Problem!);
        }
        if (moved.Value == OrderState.Executing)
        {
            await FulfilAsync(db, order.Id, time, CancellationToken.None);
        }
        else if (moved.Value == OrderState.PendingProvider)
        {
            order.State = moved.Value;
            await NotifyApproversAsync(db, mail, baseUrl, order, agent, ct);
        }
        return (await FindAsync(db, access, uuid, ct))!;
    }

    /// <summary>Mails everyone who can take the order's next step.</summary>
    private static async Task NotifyApproversAsync(CmpDbContext db, EmailSender mail, string baseUrl, Order order, ProviderAgent agent, CancellationToken ct)
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

                Review it: {baseUrl}/api/marketplace-orders/{order.Id:N}/
                Approve:   POST {baseUrl}/api/marketplace-orders/{order.Id:N}/approve_by_{side}/
                Reject:    POST {baseUrl}/api/marketplace-orders/{order.Id:N}/reject_by_{side}/
                """, ct);
        }
    }

    /// <summary>
    /// EXECUTING → DONE: creates the resource and its agent config, pinned to the order's flow version,
    /// in one transaction. A failure ends the order ERRED with the reason.
    /// </summary>
    public static async Task FulfilAsync(CmpDbContext db, Guid orderId, TimeProvider time, CancellationToken ct)
    {
        var order = await db.Orders.Include(o => o.Agent).FirstAsync(o => o.Id == orderId, ct);
        try
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var now = time.GetUtcNow().UtcDateTime;
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
}
