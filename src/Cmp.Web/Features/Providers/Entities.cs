using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Providers;

/// <summary>State of a service provider registration.</summary>
public enum ServiceProviderState
{
    /// <summary>Waiting for staff approval (only when SERVICE_PROVIDER_REQUIRES_APPROVAL); may go to <see cref="Active"/> by staff approval. Cannot publish.</summary>
    Pending,
    /// <summary>May publish agents. Final in this version (no suspension yet).</summary>
    Active,
}

/// <summary>An organization registered as a seller. One per organization.</summary>
public sealed class MarketplaceProvider : Entity, IVersioned
{
    public Guid CustomerId { get; set; }
    public Customer Customer { get; set; } = null!;
    public ServiceProviderState State { get; set; }
    public Guid CreatedById { get; set; }
    public DateTime? ApprovedAt { get; set; }
    public Guid? ApprovedById { get; set; }
    public Guid Version { get; set; }
}

internal sealed class ServiceProviderConfiguration : IEntityTypeConfiguration<MarketplaceProvider>
{
    public void Configure(EntityTypeBuilder<MarketplaceProvider> b)
    {
        b.HasIndex(p => p.CustomerId).IsUnique();
        b.HasOne(p => p.Customer).WithMany().OnDelete(DeleteBehavior.Restrict);
    }
}
