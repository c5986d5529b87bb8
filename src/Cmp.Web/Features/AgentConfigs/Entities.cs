using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.AgentConfigs;

/// <summary>A buyer's branded copy of an agent: persona, branding and widget settings. One per resource.</summary>
public sealed class CustomerAgentConfig : Entity, IVersioned
{
    public Guid ResourceId { get; set; }
    public Resource Resource { get; set; } = null!;
    public Guid CustomerId { get; set; }
    public required string AgentName { get; set; }
    public string Greeting { get; set; } = "";
    public string SystemPrompt { get; set; } = "";
    public string Tone { get; set; } = "professional";
    public string PrimaryColor { get; set; } = "#1f6feb";
    public string SecondaryColor { get; set; } = "#ffffff";
    public string AvatarUrl { get; set; } = "";
    public string Position { get; set; } = "bottom-right";
    public string Theme { get; set; } = "auto";
    /// <summary>Host names, IPs, <c>*.example.com</c> patterns or <c>localhost</c>, one per line.</summary>
    public string AllowedDomains { get; set; } = "";
    public Guid Version { get; set; }

    public IReadOnlyList<string> AllowedDomainList =>
        AllowedDomains.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

public enum ApiKeyKind
{
    Secret,
    Publishable,
}

/// <summary>An API key: only its SHA-256 hash is stored; listed by prefix and last 4 characters.</summary>
public sealed class ApiKey : Entity
{
    public Guid ConfigId { get; set; }
    public CustomerAgentConfig Config { get; set; } = null!;
    public required string Name { get; set; }
    public ApiKeyKind Kind { get; set; }
    public required string Prefix { get; set; }
    public required string Last4 { get; set; }
    public required string Hash { get; set; }
    public DateTime? ExpiresAt { get; set; }
    public DateTime? RevokedAt { get; set; }
    public DateTime? LastUsedAt { get; set; }
    public Guid CreatedById { get; set; }
}

internal sealed class AgentConfigConfigurations :
    IEntityTypeConfiguration<CustomerAgentConfig>, IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<CustomerAgentConfig> b)
    {
        b.Property(c => c.AgentName).HasMaxLength(80);
        b.Property(c => c.Greeting).HasMaxLength(500);
        b.Property(c => c.SystemPrompt).HasMaxLength(8000);
        b.Property(c => c.Tone).HasMaxLength(20);
        b.Property(c => c.PrimaryColor).HasMaxLength(7);
        b.Property(c => c.SecondaryColor).HasMaxLength(7);
        b.Property(c => c.AvatarUrl).HasMaxLength(2000);
        b.Property(c => c.Position).HasMaxLength(20);
        b.Property(c => c.Theme).HasMaxLength(10);
        b.Property(c => c.AllowedDomains).HasMaxLength(10000);
        b.HasIndex(c => c.ResourceId).IsUnique();
        b.HasIndex(c => c.CustomerId);
        b.HasOne(c => c.Resource).WithMany().OnDelete(DeleteBehavior.Restrict);
    }

    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.Property(k => k.Name).HasMaxLength(100);
        b.Property(k => k.Prefix).HasMaxLength(20);
        b.Property(k => k.Last4).HasMaxLength(4);
        b.Property(k => k.Hash).HasMaxLength(64);
        b.HasIndex(k => k.Hash).IsUnique();
        b.HasIndex(k => k.ConfigId);
        b.HasOne(k => k.Config).WithMany().OnDelete(DeleteBehavior.Cascade);
    }
}
