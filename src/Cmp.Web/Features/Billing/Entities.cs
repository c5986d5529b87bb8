using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Billing;

/// <summary>How a price component is charged (wire names FIXED, USAGE, ONE_TIME, LIMIT).</summary>
public enum BillingType
{
    Fixed,
    Usage,
    OneTime,
    Limit,
}

public sealed class Plan : Entity, IVersioned
{
    public Guid AgentId { get; set; }
    public required string Name { get; set; }
    public string Description { get; set; } = "";
    /// <summary>ISO 4217 code; every price of the plan is in it.</summary>
    public required string Currency { get; set; }
    public DateTime? ArchivedAt { get; set; }
    /// <summary>Gateway requests per minute per API key on this plan; null means the platform default.</summary>
    public int? RateLimitPerMinute { get; set; }
    public List<PlanComponent> Components { get; set; } = [];
    public Guid Version { get; set; }
}

public sealed class PlanComponent : Entity
{
    public Guid PlanId { get; set; }
    public BillingType BillingType { get; set; }
    public required string Name { get; set; }
    /// <summary>For USAGE: <c>invocation</c> or <c>1k_tokens</c>; for LIMIT the unit the cap counts.</summary>
    public string MeasuredUnit { get; set; } = "";
    /// <summary>Exact money in the plan's currency (decimal, never float).</summary>
    public decimal Price { get; set; }
    public long? LimitAmount { get; set; }
}

/// <summary>How a metered run ended (wire names completed, client_closed, failed).</summary>
public enum UsageStatus
{
    /// <summary>The answer was delivered in full.</summary>
    Completed,
    /// <summary>The run finished, but the client had gone before the answer's end: the work was done and is metered.</summary>
    ClientClosed,
    /// <summary>The run reached a model and then failed; the tokens really used are metered.</summary>
    Failed,
}

/// <summary>What a USAGE or LIMIT component counts (wire names invocation, 1k_tokens).</summary>
public enum MeteredUnit
{
    Invocation,
    ThousandTokens,
}

public static class MeteredUnits
{
    public const string Invocation = "invocation";
    public const string ThousandTokens = "1k_tokens";

    public static MeteredUnit? Parse(string? value) => value switch
    {
        Invocation => MeteredUnit.Invocation,
        ThousandTokens => MeteredUnit.ThousandTokens,
        _ => null,
    };
}

/// <summary>One run that reached the model, metered exactly once, in the same transaction as its conversation turn.</summary>
public sealed class UsageRecord : Entity
{
    public Guid ConfigId { get; set; }
    public Guid ResourceId { get; set; }
    /// <summary>The plan the resource was on when the call was accepted (a switch mid-month splits the usage).</summary>
    public Guid? PlanId { get; set; }
    /// <summary>The key that called: a secret key, or the publishable key behind a widget session.</summary>
    public Guid? ApiKeyId { get; set; }
    public bool Widget { get; set; }
    public required string SessionId { get; set; }
    public required string RequestId { get; set; }
    public long InputTokens { get; set; }
    public long OutputTokens { get; set; }
    public long LatencyMs { get; set; }
    public UsageStatus Status { get; set; }
}

/// <summary>
/// The units a LIMIT component has taken this month for one resource on one plan: calls reserve here before they run
/// (a conditional upsert, so parallel calls never take more than the cap), and give the unit back if the run failed
/// before reaching a model. Keyed by plan too, so a plan change starts from that plan's own count.
/// </summary>
public sealed class CapCounter
{
    public Guid ResourceId { get; set; }
    public Guid PlanId { get; set; }
    /// <summary>The UTC calendar month, <c>yyyy-MM</c>.</summary>
    public required string Period { get; set; }
    /// <summary>Invocations, or tokens for a 1k_tokens cap.</summary>
    public long Used { get; set; }
}

/// <summary>
/// A month's usage of one resource on one plan, summed: the metering transaction that inserts a usage record adds it
/// here too (<c>Features/Gateway/TurnStore.cs</c>), so these always equal a GROUP BY of the records, without reading
/// them. Pending invoices, revenue and component usages read these; the month close recounts the records.
/// </summary>
public sealed class UsageTotal
{
    public Guid ResourceId { get; set; }
    /// <summary>The record's plan; <see cref="Guid.Empty"/> for a record that named none.</summary>
    public Guid PlanId { get; set; }
    /// <summary>The UTC calendar month of the records' timestamps, <c>yyyy-MM</c>.</summary>
    public required string Period { get; set; }
    public long Invocations { get; set; }
    /// <summary>Input plus output tokens.</summary>
    public long Tokens { get; set; }
}

/// <summary>A stretch of time a resource spent on one plan: opened when the order is DONE or the plan is switched, closed by a switch or terminate.</summary>
public sealed class PlanPeriod : Entity
{
    public Guid ResourceId { get; set; }
    public Guid PlanId { get; set; }
    public DateTime StartsAt { get; set; }
    /// <summary>Null while the resource is on this plan.</summary>
    public DateTime? EndsAt { get; set; }
}

internal sealed class BillingConfigurations :
    IEntityTypeConfiguration<Plan>, IEntityTypeConfiguration<PlanComponent>, IEntityTypeConfiguration<UsageRecord>, IEntityTypeConfiguration<CapCounter>, IEntityTypeConfiguration<PlanPeriod>, IEntityTypeConfiguration<UsageTotal>
{
    public void Configure(EntityTypeBuilder<Plan> b)
    {
        b.Property(p => p.Name).HasMaxLength(150);
        b.Property(p => p.Description).HasMaxLength(2000);
        b.Property(p => p.Currency).HasMaxLength(3);
        b.HasMany(p => p.Components).WithOne().HasForeignKey(c => c.PlanId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<ProviderAgent>().WithMany().HasForeignKey(p => p.AgentId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<PlanComponent> b)
    {
        b.Property(c => c.Name).HasMaxLength(150);
        b.Property(c => c.MeasuredUnit).HasMaxLength(40);
        b.Property(c => c.Price).HasPrecision(18, 6);
    }

    public void Configure(EntityTypeBuilder<UsageRecord> b)
    {
        b.Property(u => u.SessionId).HasMaxLength(200);
        b.Property(u => u.RequestId).HasMaxLength(40);
        b.HasIndex(u => new { u.ConfigId, u.CreatedAt });
        // Invoices sum a month's records per resource and plan; on PostgreSQL the index carries what they sum, so the
        // sums are read from the index alone.
        b.HasIndex(u => new { u.ResourceId, u.CreatedAt }).IncludeProperties(u => new { u.PlanId, u.InputTokens, u.OutputTokens });
        b.HasOne<CustomerAgentConfig>().WithMany().HasForeignKey(u => u.ConfigId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<CapCounter> b)
    {
        b.HasKey(c => new { c.ResourceId, c.PlanId, c.Period });
        b.Property(c => c.Period).HasMaxLength(7);
        b.HasOne<Resource>().WithMany().HasForeignKey(c => c.ResourceId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<UsageTotal> b)
    {
        b.HasKey(t => new { t.ResourceId, t.PlanId, t.Period });
        b.Property(t => t.Period).HasMaxLength(7);
        b.HasIndex(t => t.Period);
    }

    public void Configure(EntityTypeBuilder<PlanPeriod> b)
    {
        b.HasIndex(p => new { p.ResourceId, p.StartsAt });
        b.HasOne<Resource>().WithMany().HasForeignKey(p => p.ResourceId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<Plan>().WithMany().HasForeignKey(p => p.PlanId).OnDelete(DeleteBehavior.Restrict);
    }
}
