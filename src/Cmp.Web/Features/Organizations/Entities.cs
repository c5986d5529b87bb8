using Cmp.Web.Features.Accounts;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Organizations;

/// <summary>An organization (Waldur: customer). Buyers and sellers are both organizations.</summary>
public sealed class Customer : Entity, IVersioned
{
    public required string Name { get; set; }
    public string Abbreviation { get; set; } = "";
    public string Email { get; set; } = "";
    public string Description { get; set; } = "";
    public Guid Version { get; set; }
}

public sealed class Project : Entity, IVersioned
{
    public Guid CustomerId { get; set; }
    public Customer Customer { get; set; } = null!;
    public required string Name { get; set; }
    public string Description { get; set; } = "";
    public Guid Version { get; set; }
}

public sealed class CustomerPermission : Entity
{
    public Guid CustomerId { get; set; }
    public Customer Customer { get; set; } = null!;
    public Guid UserId { get; set; }
    public User User { get; set; } = null!;
    public CustomerRole Role { get; set; }
    public Guid? CreatedById { get; set; }
}

public sealed class ProjectPermission : Entity
{
    public Guid ProjectId { get; set; }
    public Project Project { get; set; } = null!;
    public Guid UserId { get; set; }
    public User User { get; set; } = null!;
    public ProjectRole Role { get; set; }
    public Guid? CreatedById { get; set; }
}

/// <summary>State of an invitation. Expiry is not a state: a pending invitation past <c>expires_at</c> is shown as expired and can no longer be accepted.</summary>
public enum InvitationState
{
    /// <summary>Sent, waiting for the invitee. May go to <see cref="Accepted"/> (by the invitee, before expiry) or <see cref="Canceled"/> (by whoever may manage the scope's users).</summary>
    Pending,
    /// <summary>Final: the invitee holds the role.</summary>
    Accepted,
    /// <summary>Final.</summary>
    Canceled,
}

/// <summary>An emailed offer of a role in an organization or in one of its projects.</summary>
public sealed class Invitation : Entity, IVersioned
{
    public Guid CustomerId { get; set; }
    public Customer Customer { get; set; } = null!;
    /// <summary>Set for a project role; null for an organization role.</summary>
    public Guid? ProjectId { get; set; }
    public Project? Project { get; set; }
    public required string Email { get; set; }
    /// <summary>A <see cref="CustomerRole"/> name when <see cref="ProjectId"/> is null, else a <see cref="ProjectRole"/> name (lower case).</summary>
    public required string Role { get; set; }
    public InvitationState State { get; set; } = InvitationState.Pending;
    public DateTime ExpiresAt { get; set; }
    public Guid CreatedById { get; set; }
    public Guid? AcceptedById { get; set; }
    public DateTime? AcceptedAt { get; set; }
    public Guid? CanceledById { get; set; }
    public DateTime? CanceledAt { get; set; }
    public Guid Version { get; set; }
}

internal sealed class OrganizationConfigurations :
    IEntityTypeConfiguration<Customer>, IEntityTypeConfiguration<Project>, IEntityTypeConfiguration<CustomerPermission>,
    IEntityTypeConfiguration<ProjectPermission>, IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Customer> b)
    {
        b.Property(c => c.Name).HasMaxLength(150);
        b.Property(c => c.Abbreviation).HasMaxLength(12);
        b.Property(c => c.Email).HasMaxLength(254);
        b.Property(c => c.Description).HasMaxLength(2000);
        b.HasIndex(c => c.Name);
    }

    public void Configure(EntityTypeBuilder<Project> b)
    {
        b.Property(p => p.Name).HasMaxLength(150);
        b.Property(p => p.Description).HasMaxLength(2000);
        b.HasOne(p => p.Customer).WithMany().OnDelete(DeleteBehavior.Restrict);
    }

    public void Configure(EntityTypeBuilder<CustomerPermission> b)
    {
        b.HasIndex(p => new { p.CustomerId, p.UserId, p.Role }).IsUnique();
        b.HasIndex(p => p.UserId);
        b.HasOne(p => p.Customer).WithMany().OnDelete(DeleteBehavior.Cascade);
        b.HasOne(p => p.User).WithMany().OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<ProjectPermission> b)
    {
        b.HasIndex(p => new { p.ProjectId, p.UserId, p.Role }).IsUnique();
        b.HasIndex(p => p.UserId);
        b.HasOne(p => p.Project).WithMany().OnDelete(DeleteBehavior.Cascade);
        b.HasOne(p => p.User).WithMany().OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<Invitation> b)
    {
        b.Property(i => i.Email).HasMaxLength(254);
        b.Property(i => i.Role).HasMaxLength(20);
        b.HasIndex(i => new { i.Email, i.State });
        b.HasOne(i => i.Customer).WithMany().OnDelete(DeleteBehavior.Cascade);
        b.HasOne(i => i.Project).WithMany().OnDelete(DeleteBehavior.Cascade);
    }
}
