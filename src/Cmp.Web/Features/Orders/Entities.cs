using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Orders;

/// <summary>An order's state (wire names PENDING_CONSUMER, PENDING_PROVIDER, EXECUTING, DONE, REJECTED, CANCELED, ERRED); the actions that move it are <see cref="OrderWorkflow.Transitions"/>.</summary>
public enum OrderState
{
    /// <summary>Waits for a holder of APPROVE_ORDER in the buying organization. → PendingProvider | Executing (approve_by_consumer), Rejected (reject_by_consumer), Canceled (cancel).</summary>
    PendingConsumer,
    /// <summary>Waits for the seller (the agent sets requires_provider_approval). → Executing (approve_by_provider), Rejected (reject_by_provider), Canceled (cancel).</summary>
    PendingProvider,
    /// <summary>Being fulfilled: the resource and its config are created. → Done | Erred.</summary>
    Executing,
    /// <summary>Final: the resource exists.</summary>
    Done,
    /// <summary>Final.</summary>
    Rejected,
    /// <summary>Final.</summary>
    Canceled,
    /// <summary>Final: fulfilment failed; the reason is in error_message.</summary>
    Erred,
}

/// <summary>A resource's state (wire names CREATING, OK, TERMINATING, TERMINATED, ERRED).</summary>
public enum ResourceState
{
    /// <summary>Being created by its order. → Ok | Erred.</summary>
    Creating,
    /// <summary>In use: its keys work. → Terminated (terminate).</summary>
    Ok,
    /// <summary>Reserved for asynchronous termination. → Terminated.</summary>
    Terminating,
    /// <summary>Final: its keys stop working at once.</summary>
    Terminated,
    /// <summary>Final.</summary>
    Erred,
}

public sealed class Order : Entity, IVersioned
{
    public Guid AgentId { get; set; }
    public ProviderAgent Agent { get; set; } = null!;
    public Guid PlanId { get; set; }
    public Guid ProjectId { get; set; }
    public Guid CustomerId { get; set; }
    public Customer Customer { get; set; } = null!;
    public OrderState State { get; set; }
    /// <summary>The flow version on sale when the order was placed; the resource is pinned to it.</summary>
    public Guid FlowVersionId { get; set; }
    public Guid CreatedById { get; set; }
    /// <summary>The name the buyer gave the resource to be created, if any (else the agent's name).</summary>
    public string? Name { get; set; }
    public Guid? ConsumerReviewedById { get; set; }
    public DateTime? ConsumerReviewedAt { get; set; }
    public Guid? ProviderReviewedById { get; set; }
    public DateTime? ProviderReviewedAt { get; set; }
    public Guid? CanceledById { get; set; }
    public DateTime? CanceledAt { get; set; }
    public DateTime? CompletedAt { get; set; }
    public string? ErrorMessage { get; set; }
    public Guid? ResourceId { get; set; }
    public Guid Version { get; set; }
}

public sealed class Resource : Entity, IVersioned
{
    public Guid OrderId { get; set; }
    public Guid AgentId { get; set; }
    public ProviderAgent Agent { get; set; } = null!;
    public Guid PlanId { get; set; }
    public Plan Plan { get; set; } = null!;
    public Guid ProjectId { get; set; }
    public Guid CustomerId { get; set; }
    public Customer Customer { get; set; } = null!;
    public required string Name { get; set; }
    public ResourceState State { get; set; }
    public Guid FlowVersionId { get; set; }
    public DateTime? ActivatedAt { get; set; }
    public DateTime? TerminatedAt { get; set; }
    public Guid Version { get; set; }
}

internal sealed class OrderConfigurations : IEntityTypeConfiguration<Order>, IEntityTypeConfiguration<Resource>
{
    public void Configure(EntityTypeBuilder<Order> b)
    {
        b.Property(o => o.ErrorMessage).HasMaxLength(2000);
        b.Property(o => o.Name).HasMaxLength(150);
        b.HasIndex(o => new { o.CustomerId, o.State });
        b.HasIndex(o => o.AgentId);
        b.HasOne(o => o.Agent).WithMany().OnDelete(DeleteBehavior.Restrict);
        b.HasOne(o => o.Customer).WithMany().OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Plan>().WithMany().HasForeignKey(o => o.PlanId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Project>().WithMany().HasForeignKey(o => o.ProjectId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<FlowVersion>().WithMany().HasForeignKey(o => o.FlowVersionId).OnDelete(DeleteBehavior.Restrict);
    }

    public void Configure(EntityTypeBuilder<Resource> b)
    {
        b.Property(r => r.Name).HasMaxLength(150);
        b.HasIndex(r => new { r.CustomerId, r.State });
        b.HasIndex(r => r.AgentId);
        b.HasOne(r => r.Agent).WithMany().OnDelete(DeleteBehavior.Restrict);
        b.HasOne(r => r.Plan).WithMany().OnDelete(DeleteBehavior.Restrict);
        b.HasOne(r => r.Customer).WithMany().OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Project>().WithMany().HasForeignKey(r => r.ProjectId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<FlowVersion>().WithMany().HasForeignKey(r => r.FlowVersionId).OnDelete(DeleteBehavior.Restrict);
    }
}
