using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Orders;

/// <summary>What a person may do to an order (wire names approve_by_consumer, approve_by_provider, reject_by_consumer, reject_by_provider, cancel).</summary>
public enum OrderAction
{
    ApproveByConsumer,
    ApproveByProvider,
    RejectByConsumer,
    RejectByProvider,
    Cancel,
}

/// <summary>The parts a user plays for one order; a transition names the parts that may take it.</summary>
[Flags]
public enum OrderRoles
{
    None = 0,
    /// <summary>Placed the order.</summary>
    Creator = 1,
    /// <summary>Holds APPROVE_ORDER in the buying organization (staff always).</summary>
    ConsumerApprover = 2,
    /// <summary>Holds APPROVE_ORDER in the selling provider's organization (staff always).</summary>
    ProviderApprover = 4,
}

/// <summary>Who and when an action writes on the order.</summary>
public enum OrderRecord
{
    /// <summary>consumer_reviewed_by / consumer_reviewed_at.</summary>
    ConsumerReview,
    /// <summary>provider_reviewed_by / provider_reviewed_at.</summary>
    ProviderReview,
    /// <summary>canceled_by / canceled_at.</summary>
    Cancellation,
}

/// <summary>
/// One row of the order workflow: the action, the states it leaves, the state it reaches (for a consumer approval,
/// PENDING_PROVIDER instead when the agent requires the provider's approval), the parts allowed to take it (any of
/// them), what it records, and the refusal for anyone else.
/// </summary>
public sealed record OrderTransition(
    OrderAction Action, string Wire, IReadOnlyList<OrderState> From, OrderState To, OrderState? ToWhenProviderApproves,
    OrderRoles Who, OrderRecord Records, string Refusal)
{
    /// <summary>The state the action reaches for an agent that does or does not require the provider's approval.</summary>
    public OrderState Next(bool requiresProviderApproval) =>
        requiresProviderApproval && ToWhenProviderApproves is { } pending ? pending : To;

    public bool AllowedFor(OrderRoles roles) => (Who & roles) != OrderRoles.None;

    /// <summary>Whether a user with these parts may take the action on an order in this state (the page shows the button only then).</summary>
    public bool Allows(OrderState state, OrderRoles roles) => From.Contains(state) && AllowedFor(roles);
}

/// <summary>
/// The order state machine in one table (<see cref="Transitions"/>) and one guarded move (<see cref="TryMoveAsync"/>):
/// <c>UPDATE … WHERE id = @id AND state IN (from…)</c>, and no row changed means another request acted first (409).
/// EXECUTING → DONE | ERRED is the fulfilment's own guarded move (<see cref="OrderOperations.FulfilAsync"/>).
/// </summary>
public static class OrderWorkflow
{
    private static readonly OrderState[] Pending = [OrderState.PendingConsumer, OrderState.PendingProvider];

    public static readonly IReadOnlyDictionary<OrderAction, OrderTransition> Transitions = new[]
    {
        new OrderTransition(OrderAction.ApproveByConsumer, "approve_by_consumer", [OrderState.PendingConsumer], OrderState.Executing, OrderState.PendingProvider,
            OrderRoles.ConsumerApprover, OrderRecord.ConsumerReview, "Approving as the consumer needs APPROVE_ORDER in the buying organization."),
        new OrderTransition(OrderAction.ApproveByProvider, "approve_by_provider", [OrderState.PendingProvider], OrderState.Executing, null,
            OrderRoles.ProviderApprover, OrderRecord.ProviderReview, "Approving as the provider needs APPROVE_ORDER in the selling organization."),
        new OrderTransition(OrderAction.RejectByConsumer, "reject_by_consumer", [OrderState.PendingConsumer], OrderState.Rejected, null,
            OrderRoles.ConsumerApprover, OrderRecord.ConsumerReview, "Rejecting as the consumer needs APPROVE_ORDER in the buying organization."),
        new OrderTransition(OrderAction.RejectByProvider, "reject_by_provider", [OrderState.PendingProvider], OrderState.Rejected, null,
            OrderRoles.ProviderApprover, OrderRecord.ProviderReview, "Rejecting as the provider needs APPROVE_ORDER in the selling organization."),
        new OrderTransition(OrderAction.Cancel, "cancel", Pending, OrderState.Canceled, null,
            OrderRoles.Creator | OrderRoles.ConsumerApprover, OrderRecord.Cancellation, "Only the order's creator or an approver of the buying organization may cancel it."),
    }.ToDictionary(t => t.Action);

    public static OrderTransition For(OrderAction action) => Transitions[action];

    /// <summary>The actions a user with these parts may take on an order in this state, in table order.</summary>
    public static IEnumerable<OrderAction> AllowedActions(OrderState state, OrderRoles roles) =>
        Enum.GetValues<OrderAction>().Where(a => Transitions[a].Allows(state, roles));

    /// <summary>
    /// Moves the order along the transition if it is still in one of the transition's from-states, recording who and
    /// when; otherwise the 409 naming the state it is in now.
    /// </summary>
    public static async Task<Outcome<OrderState>> TryMoveAsync(
        CmpDbContext db, Guid orderId, OrderTransition transition, OrderState target, Guid actor, DateTime now, CancellationToken ct)
    {
        var from = transition.From.ToArray();
        var moved = await db.Orders.Where(o => o.Id == orderId && from.Contains(o.State)).ExecuteUpdateAsync(s =>
        {
            s.SetProperty(o => o.State, target).SetProperty(o => o.Version, Guid.NewGuid());
            switch (transition.Records)
            {
                case OrderRecord.ConsumerReview:
                    s.SetProperty(o => o.ConsumerReviewedById, actor).SetProperty(o => o.ConsumerReviewedAt, now);
                    break;
                case OrderRecord.ProviderReview:
                    s.SetProperty(o => o.ProviderReviewedById, actor).SetProperty(o => o.ProviderReviewedAt, now);
                    break;
                case OrderRecord.Cancellation:
                    s.SetProperty(o => o.CanceledById, actor).SetProperty(o => o.CanceledAt, now);
                    break;
            }
        }, ct);
        if (moved == 1)
        {
            return target;
        }
        var current = await db.Orders.Where(o => o.Id == orderId).Select(o => o.State).FirstAsync(ct);
        return Conflict(current);
    }

    private static ProblemHttpResult Conflict(OrderState current) =>
        Problems.Conflict($"The order is {current.Screaming()}; this action does not apply (another request may have acted first).", ProblemTypes.InvalidTransition);
}
