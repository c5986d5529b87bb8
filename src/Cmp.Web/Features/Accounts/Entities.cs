using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Accounts;

public sealed class User : Entity, IVersioned
{
    /// <summary>Always stored trimmed and lower-case; unique.</summary>
    public required string Email { get; set; }
    public string FullName { get; set; } = "";
    /// <summary>ASP.NET Core Identity's hash; null for accounts that only sign in with OIDC.</summary>
    public string? PasswordHash { get; set; }
    public bool IsStaff { get; set; }
    public bool IsActive { get; set; } = true;
    public bool EmailVerified { get; set; }
    public int FailedSignInCount { get; set; }
    public DateTime? LockedUntil { get; set; }
    public DateTime? LastSignInAt { get; set; }
    public Guid Version { get; set; }
}

/// <summary>An API token from <c>POST /api-auth/password/</c>; only its hash is kept.</summary>
public sealed class AuthToken : Entity
{
    public Guid UserId { get; set; }
    public User User { get; set; } = null!;
    public required string TokenHash { get; set; }
    public DateTime ExpiresAt { get; set; }
    public DateTime? RevokedAt { get; set; }
}

/// <summary>What a mailed one-time token is for; stored by name (a new member needs no migration).</summary>
public enum OneTimeTokenPurpose
{
    /// <summary>Proves the address of a new account (24 h).</summary>
    VerifyEmail,
    /// <summary>Lets the holder set a new password (1 h).</summary>
    PasswordReset,
}

/// <summary>A single-use, expiring token sent by email (verification, password reset); only its hash is kept.</summary>
public sealed class OneTimeToken : Entity
{
    public Guid UserId { get; set; }
    public User User { get; set; } = null!;
    public OneTimeTokenPurpose Purpose { get; set; }
    public required string TokenHash { get; set; }
    public DateTime ExpiresAt { get; set; }
    public DateTime? UsedAt { get; set; }
}

/// <summary>Links a user to an OpenID Connect subject (issuer + sub).</summary>
public sealed class ExternalLogin : Entity
{
    public Guid UserId { get; set; }
    public User User { get; set; } = null!;
    public required string Issuer { get; set; }
    public required string Subject { get; set; }
}

internal sealed class AccountConfigurations :
    IEntityTypeConfiguration<User>, IEntityTypeConfiguration<AuthToken>, IEntityTypeConfiguration<OneTimeToken>, IEntityTypeConfiguration<ExternalLogin>
{
    public void Configure(EntityTypeBuilder<User> b)
    {
        b.Property(u => u.Email).HasMaxLength(254);
        b.HasIndex(u => u.Email).IsUnique();
        b.Property(u => u.FullName).HasMaxLength(150);
        b.Property(u => u.PasswordHash).HasMaxLength(200);
    }

    public void Configure(EntityTypeBuilder<AuthToken> b)
    {
        b.Property(t => t.TokenHash).HasMaxLength(64);
        b.HasIndex(t => t.TokenHash).IsUnique();
        b.HasOne(t => t.User).WithMany().OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<OneTimeToken> b)
    {
        b.Property(t => t.TokenHash).HasMaxLength(64);
        b.HasIndex(t => t.TokenHash).IsUnique();
        b.HasOne(t => t.User).WithMany().OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<ExternalLogin> b)
    {
        b.Property(l => l.Issuer).HasMaxLength(500);
        b.Property(l => l.Subject).HasMaxLength(255);
        b.HasIndex(l => new { l.Issuer, l.Subject }).IsUnique();
        b.HasOne(l => l.User).WithMany().OnDelete(DeleteBehavior.Cascade);
    }
}
