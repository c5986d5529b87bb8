using Cmp.Web.Features.Orders;

namespace Cmp.Web.Tests.Orders;

public sealed class OrderWorkflowTests
{
    [Fact]
    public void TheTable_HasOneTransitionForEveryAction_WithFromStates_AParty_AndTheWireName()
    {
        foreach (var action in Enum.GetValues<OrderAction>())
        {
            Assert.True(OrderWorkflow.Transitions.TryGetValue(action, out var t), $"{action} has no transition");
            Assert.Equal(action, t.Action);
            Assert.NotEmpty(t.From);
            Assert.NotEqual(OrderRoles.None, t.Who);
            Assert.False(string.IsNullOrWhiteSpace(t.Refusal));
        }
        Assert.Equal(Enum.GetValues<OrderAction>().Length, OrderWorkflow.Transitions.Count);
        Assert.Equal(
            ["approve_by_consumer", "approve_by_provider", "reject_by_consumer", "reject_by_provider", "cancel"],
            Enum.GetValues<OrderAction>().Select(a => OrderWorkflow.For(a).Wire));
    }

    [Fact]
    public void OnlyPendingOrdersMove_AndFinalStatesAllowNoAction()
    {
        var pending = new[] { OrderState.PendingConsumer, OrderState.PendingProvider };
        Assert.All(OrderWorkflow.Transitions.Values, t => Assert.All(t.From, s => Assert.Contains(s, pending)));
        var everyone = OrderRoles.Creator | OrderRoles.ConsumerApprover | OrderRoles.ProviderApprover;
        foreach (var state in new[] { OrderState.Executing, OrderState.Done, OrderState.Rejected, OrderState.Canceled, OrderState.Erred })
        {
            Assert.Empty(OrderWorkflow.AllowedActions(state, everyone));
        }
    }

    [Fact]
    public void ConsumerApproval_GoesToTheProvider_OnlyWhenTheAgentRequiresIt()
    {
        var approve = OrderWorkflow.For(OrderAction.ApproveByConsumer);
        Assert.Equal(OrderState.PendingProvider, approve.Next(requiresProviderApproval: true));
        Assert.Equal(OrderState.Executing, approve.Next(requiresProviderApproval: false));
        Assert.Equal(OrderState.Executing, OrderWorkflow.For(OrderAction.ApproveByProvider).Next(requiresProviderApproval: true));
        Assert.Equal(OrderState.Rejected, OrderWorkflow.For(OrderAction.RejectByProvider).Next(requiresProviderApproval: true));
    }

    [Fact]
    public void WhoMayAct_CreatorCancels_ApproversReviewTheirSide()
    {
        Assert.Equal([OrderAction.Cancel], OrderWorkflow.AllowedActions(OrderState.PendingConsumer, OrderRoles.Creator));
        Assert.Equal([OrderAction.Cancel], OrderWorkflow.AllowedActions(OrderState.PendingProvider, OrderRoles.Creator));
        Assert.Equal(
            [OrderAction.ApproveByConsumer, OrderAction.RejectByConsumer, OrderAction.Cancel],
            OrderWorkflow.AllowedActions(OrderState.PendingConsumer, OrderRoles.ConsumerApprover));
        Assert.Equal([OrderAction.Cancel], OrderWorkflow.AllowedActions(OrderState.PendingProvider, OrderRoles.ConsumerApprover));
        Assert.Empty(OrderWorkflow.AllowedActions(OrderState.PendingConsumer, OrderRoles.ProviderApprover));
        Assert.Equal(
            [OrderAction.ApproveByProvider, OrderAction.RejectByProvider],
            OrderWorkflow.AllowedActions(OrderState.PendingProvider, OrderRoles.ProviderApprover));
        Assert.Empty(OrderWorkflow.AllowedActions(OrderState.PendingConsumer, OrderRoles.None));
    }
}
