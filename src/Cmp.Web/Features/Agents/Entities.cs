using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Agents;

public enum AgentCategory
{
    Agents,
    Apps,
    Assistants,
    Automations,
}

/// <summary>State of the agent's catalog offering (wire names DRAFT, ACTIVE, PAUSED, ARCHIVED).</summary>
public enum OfferingState
{
    /// <summary>Being built. May go to <see cref="Active"/> (publish: needs a READY runtime, a plan, an active provider) or <see cref="Archived"/>.</summary>
    Draft,
    /// <summary>In the catalog, takes orders. May go to <see cref="Paused"/> or <see cref="Archived"/>.</summary>
    Active,
    /// <summary>Hidden, takes no orders, existing buyers are refused. May go back to <see cref="Active"/> (publish) or to <see cref="Archived"/>.</summary>
    Paused,
    /// <summary>Final: gone from the catalog for good.</summary>
    Archived,
}

/// <summary>Deployment of the current flow version to the runtime (wire names NOT_DEPLOYED, DEPLOYING, READY, FAILED).</summary>
public enum RuntimeState
{
    /// <summary>No flow imported yet. Goes to <see cref="Deploying"/> on import.</summary>
    NotDeployed,
    /// <summary>Queued or in progress; goes to <see cref="Ready"/> or <see cref="Failed"/>. A new import or secret restarts it.</summary>
    Deploying,
    /// <summary>The current version runs. A new import or secret change redeploys (back to <see cref="Deploying"/>).</summary>
    Ready,
    /// <summary>Deployment failed; the reason is in runtime_error. A new import or secret change retries.</summary>
    Failed,
}

/// <summary>A seller's agent: an offering of type agent, its flow versions, runtime deployment and plans.</summary>
public sealed class ProviderAgent : Entity, IVersioned
{
    public Guid ServiceProviderId { get; set; }
    public MarketplaceProvider ServiceProvider { get; set; } = null!;
    /// <summary>The uuid of the catalog offering this agent is sold as.</summary>
    public Guid OfferingId { get; set; } = Guid.CreateVersion7();
    public required string Name { get; set; }
    public string Description { get; set; } = "";
    public AgentCategory Category { get; set; }
    public OfferingState State { get; set; } = OfferingState.Draft;
    public RuntimeState RuntimeState { get; set; } = RuntimeState.NotDeployed;
    public string? RuntimeError { get; set; }
    public Guid? CurrentFlowVersionId { get; set; }
    public FlowVersion? CurrentFlowVersion { get; set; }
    public bool RequiresProviderApproval { get; set; }
    public Guid Version { get; set; }
}

/// <summary>An accepted import: immutable. Buyers stay on the version they bought until they upgrade.</summary>
public sealed class FlowVersion : Entity
{
    public Guid AgentId { get; set; }
    public int Number { get; set; }
    public required string Sha256 { get; set; }
    public required string Json { get; set; }
    /// <summary>Nodes, inputs, outputs, variables and file nodes, as JSON, for the seller's view.</summary>
    public required string Summary { get; set; }
    public Guid CreatedById { get; set; }
    /// <summary>
    /// This version's flow on a remote Langflow runtime, when that runtime is used: each version keeps its own, so
    /// a buyer pinned to an older version runs that version.
    /// </summary>
    public string? RemoteFlowId { get; set; }
}

/// <summary>A file a File node reads, uploaded by the seller and kept with the flow version.</summary>
public sealed class AgentFile : Entity
{
    public Guid AgentId { get; set; }
    public Guid FlowVersionId { get; set; }
    public required string NodeId { get; set; }
    public required string FileName { get; set; }
    public required string ContentType { get; set; }
    public long Size { get; set; }
    public required byte[] Content { get; set; }
}

/// <summary>A write-only variable for the flow (e.g. OPENAI_API_KEY), encrypted with Data Protection.</summary>
public sealed class AgentSecret : Entity
{
    public Guid AgentId { get; set; }
    public required string Name { get; set; }
    public required string Protected { get; set; }
    public DateTime UpdatedAt { get; set; } = DateTime.UtcNow;
}

/// <summary>One message of a conversation, scoped (a buyer's config, or a seller's test chat) and by session.</summary>
public sealed class ConversationMessage : Entity
{
    public required string Scope { get; set; }
    public required string SessionId { get; set; }
    public required string Sender { get; set; }
    public string SenderName { get; set; } = "";
    public required string Text { get; set; }
}

internal sealed class AgentConfigurations :
    IEntityTypeConfiguration<ProviderAgent>, IEntityTypeConfiguration<FlowVersion>, IEntityTypeConfiguration<AgentFile>,
    IEntityTypeConfiguration<AgentSecret>, IEntityTypeConfiguration<ConversationMessage>
{
    public void Configure(EntityTypeBuilder<ProviderAgent> b)
    {
        b.Property(a => a.Name).HasMaxLength(150);
        b.Property(a => a.Description).HasMaxLength(4000);
        b.Property(a => a.RuntimeError).HasMaxLength(2000);
        b.HasIndex(a => a.OfferingId).IsUnique();
        b.HasIndex(a => a.State);
        b.HasOne(a => a.ServiceProvider).WithMany().OnDelete(DeleteBehavior.Restrict);
        b.HasOne(a => a.CurrentFlowVersion).WithMany().HasForeignKey(a => a.CurrentFlowVersionId).OnDelete(DeleteBehavior.Restrict);
    }

    public void Configure(EntityTypeBuilder<FlowVersion> b)
    {
        b.Property(v => v.Sha256).HasMaxLength(64);
        b.Property(v => v.RemoteFlowId).HasMaxLength(200);
        b.HasIndex(v => new { v.AgentId, v.Number }).IsUnique();
        b.HasOne<ProviderAgent>().WithMany().HasForeignKey(v => v.AgentId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<AgentFile> b)
    {
        b.Property(f => f.NodeId).HasMaxLength(200);
        b.Property(f => f.FileName).HasMaxLength(255);
        b.Property(f => f.ContentType).HasMaxLength(100);
        b.HasIndex(f => new { f.FlowVersionId, f.NodeId });
        b.HasOne<ProviderAgent>().WithMany().HasForeignKey(f => f.AgentId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<FlowVersion>().WithMany().HasForeignKey(f => f.FlowVersionId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<AgentSecret> b)
    {
        b.Property(s => s.Name).HasMaxLength(100);
        b.HasIndex(s => new { s.AgentId, s.Name }).IsUnique();
        b.HasOne<ProviderAgent>().WithMany().HasForeignKey(s => s.AgentId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<ConversationMessage> b)
    {
        b.Property(m => m.Scope).HasMaxLength(100);
        b.Property(m => m.SessionId).HasMaxLength(200);
        b.Property(m => m.Sender).HasMaxLength(20);
        b.Property(m => m.SenderName).HasMaxLength(100);
        b.HasIndex(m => new { m.Scope, m.SessionId, m.CreatedAt });
    }
}
