using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cmp.Web.Features.Billing;

/// <summary>An invoice's state (wire names pending, created, paid, canceled); staff move it with <see cref="InvoiceOperations.MarkAsync"/>.</summary>
public enum InvoiceState
{
    /// <summary>The month is open: items are computed from plan periods and usage whenever it is read. → Created (month close).</summary>
    Pending,
    /// <summary>Frozen by the month close: its items are stored and never change again. → Paid | Canceled (staff).</summary>
    Created,
    /// <summary>Final: staff recorded the payment.</summary>
    Paid,
    /// <summary>Final: staff canceled it; it counts neither as owed nor as revenue.</summary>
    Canceled,
}

/// <summary>One customer's bill for one UTC calendar month in one currency.</summary>
public sealed class Invoice : Entity, IVersioned
{
    public Guid CustomerId { get; set; }
    public int Year { get; set; }
    public int Month { get; set; }
    public required string Currency { get; set; }
    public InvoiceState State { get; set; }
    /// <summary>The exact sum of the items' rounded totals: as of the last computation while pending, final once created.</summary>
    public decimal Total { get; set; }
    /// <summary>When the month close froze it.</summary>
    public DateTime? ClosedAt { get; set; }
    public DateTime? PaidAt { get; set; }
    public DateTime? CanceledAt { get; set; }
    public Guid? MarkedById { get; set; }
    public List<InvoiceItem> Items { get; set; } = [];
    public Guid Version { get; set; }
}

/// <summary>
/// One line of a frozen invoice, a copy of what <see cref="InvoiceRules"/> computed at the close (names included, so a
/// renamed agent or plan never rewrites an old invoice). A pending invoice's lines are computed on read, not stored.
/// </summary>
public sealed class InvoiceItem : Entity
{
    public Guid InvoiceId { get; set; }
    public Guid ResourceId { get; set; }
    public required string ResourceName { get; set; }
    public Guid ProviderId { get; set; }
    public Guid OfferingId { get; set; }
    public required string OfferingName { get; set; }
    public Guid PlanId { get; set; }
    public required string PlanName { get; set; }
    public Guid? ComponentId { get; set; }
    public required string ComponentName { get; set; }
    public BillingType BillingType { get; set; }
    /// <summary><c>day</c> (FIXED), <c>invocation</c> or <c>1k_tokens</c> (USAGE), <c>month</c> (LIMIT), <c>once</c> (ONE_TIME).</summary>
    public required string Unit { get; set; }
    public decimal Quantity { get; set; }
    public decimal UnitPrice { get; set; }
    /// <summary>For FIXED: the month's days, the denominator of the pro-rating.</summary>
    public int? DaysInMonth { get; set; }
    public decimal Total { get; set; }
    public DateTime Start { get; set; }
    public DateTime End { get; set; }
    public int Position { get; set; }
}

/// <summary>A month the close has finished: its invoices are all frozen, and no later run touches it.</summary>
public sealed class BillingClosure
{
    /// <summary><c>yyyy-MM</c>.</summary>
    public required string Period { get; set; }
    public DateTime ClosedAt { get; set; }
    public int Invoices { get; set; }
}

internal sealed class InvoiceConfigurations :
    IEntityTypeConfiguration<Invoice>, IEntityTypeConfiguration<InvoiceItem>, IEntityTypeConfiguration<BillingClosure>
{
    public void Configure(EntityTypeBuilder<Invoice> b)
    {
        b.Property(i => i.Currency).HasMaxLength(3);
        b.Property(i => i.Total).HasPrecision(18, 6);
        // One invoice per customer, month and currency: the month close and on-read computation both lean on it.
        b.HasIndex(i => new { i.CustomerId, i.Year, i.Month, i.Currency }).IsUnique();
        b.HasIndex(i => new { i.Year, i.Month, i.State });
        b.HasOne<Customer>().WithMany().HasForeignKey(i => i.CustomerId).OnDelete(DeleteBehavior.Restrict);
        b.HasMany(i => i.Items).WithOne().HasForeignKey(i => i.InvoiceId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<InvoiceItem> b)
    {
        b.Property(i => i.ResourceName).HasMaxLength(150);
        b.Property(i => i.OfferingName).HasMaxLength(150);
        b.Property(i => i.PlanName).HasMaxLength(150);
        b.Property(i => i.ComponentName).HasMaxLength(150);
        b.Property(i => i.Unit).HasMaxLength(20);
        b.Property(i => i.Quantity).HasPrecision(18, 6);
        b.Property(i => i.UnitPrice).HasPrecision(18, 6);
        b.Property(i => i.Total).HasPrecision(18, 6);
        b.HasIndex(i => new { i.InvoiceId, i.Position });
        b.HasIndex(i => i.ProviderId);
    }

    public void Configure(EntityTypeBuilder<BillingClosure> b)
    {
        b.HasKey(c => c.Period);
        b.Property(c => c.Period).HasMaxLength(7);
    }
}
