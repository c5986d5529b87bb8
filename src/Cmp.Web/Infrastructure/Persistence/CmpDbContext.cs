using Cmp.Web.Features.Accounts;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Gateway;
using Cmp.Web.Features.Orders;
using Cmp.Web.Features.Providers;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Email;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Cmp.Web.Infrastructure.Persistence;

/// <summary>
/// The one DbContext. It is abstract because each database provider has its own subclass
/// and its own migration set (see <see cref="SqliteCmpDbContext"/>, <see cref="PostgresCmpDbContext"/>);
/// the application only ever asks for <see cref="CmpDbContext"/>.
/// </summary>
public abstract class CmpDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<User> Users => Set<User>();
    public DbSet<AuthToken> AuthTokens => Set<AuthToken>();
    public DbSet<OneTimeToken> OneTimeTokens => Set<OneTimeToken>();
    public DbSet<ExternalLogin> ExternalLogins => Set<ExternalLogin>();
    public DbSet<OutgoingEmail> Emails => Set<OutgoingEmail>();
    public DbSet<Customer> Customers => Set<Customer>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<CustomerPermission> CustomerPermissions => Set<CustomerPermission>();
    public DbSet<ProjectPermission> ProjectPermissions => Set<ProjectPermission>();
    public DbSet<Invitation> Invitations => Set<Invitation>();
    public DbSet<MarketplaceProvider> ServiceProviders => Set<MarketplaceProvider>();
    public DbSet<ProviderAgent> ProviderAgents => Set<ProviderAgent>();
    public DbSet<FlowVersion> FlowVersions => Set<FlowVersion>();
    public DbSet<AgentFile> AgentFiles => Set<AgentFile>();
    public DbSet<AgentSecret> AgentSecrets => Set<AgentSecret>();
    public DbSet<Plan> Plans => Set<Plan>();
    public DbSet<PlanComponent> PlanComponents => Set<PlanComponent>();
    public DbSet<ConversationMessage> ConversationMessages => Set<ConversationMessage>();
    public DbSet<Order> Orders => Set<Order>();
    public DbSet<Resource> Resources => Set<Resource>();
    public DbSet<CustomerAgentConfig> AgentConfigs => Set<CustomerAgentConfig>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<UsageRecord> UsageRecords => Set<UsageRecord>();
    public DbSet<CapCounter> CapCounters => Set<CapCounter>();
    public DbSet<PlanPeriod> PlanPeriods => Set<PlanPeriod>();
    public DbSet<UsageTotal> UsageTotals => Set<UsageTotal>();
    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();
    public DbSet<Invoice> Invoices => Set<Invoice>();
    public DbSet<InvoiceItem> InvoiceItems => Set<InvoiceItem>();
    public DbSet<BillingClosure> BillingClosures => Set<BillingClosure>();
    public DbSet<JobLease> JobLeases => Set<JobLease>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(CmpDbContext).Assembly);
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            if (typeof(IVersioned).IsAssignableFrom(entity.ClrType))
            {
                modelBuilder.Entity(entity.ClrType).Property(nameof(IVersioned.Version)).IsConcurrencyToken();
            }
        }
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Portable model: enums as strings, every DateTime is UTC on the way in and out.
        configurationBuilder.Properties<Enum>().HaveConversion<string>().HaveMaxLength(40);
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<NullableUtcConverter>();
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        BumpVersions();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        BumpVersions();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    private void BumpVersions()
    {
        foreach (var entry in ChangeTracker.Entries<IVersioned>())
        {
            if (entry.State is EntityState.Added or EntityState.Modified)
            {
                entry.Entity.Version = Guid.NewGuid();
            }
        }
    }

    private static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    private sealed class UtcConverter() : ValueConverter<DateTime, DateTime>(v => ToUtc(v), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    private sealed class NullableUtcConverter() : ValueConverter<DateTime?, DateTime?>(
        v => v.HasValue ? ToUtc(v.Value) : v,
        v => v.HasValue ? DateTime.SpecifyKind(v.Value, DateTimeKind.Utc) : v);
}

/// <summary>SQLite flavour (the default): its migrations live in Migrations/Sqlite.</summary>
public sealed class SqliteCmpDbContext(DbContextOptions<SqliteCmpDbContext> options) : CmpDbContext(options);

/// <summary>PostgreSQL flavour: its migrations live in Migrations/Postgres.</summary>
public sealed class PostgresCmpDbContext(DbContextOptions<PostgresCmpDbContext> options) : CmpDbContext(options);
