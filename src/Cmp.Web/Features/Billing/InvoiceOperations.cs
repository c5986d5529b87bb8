using System.Globalization;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Security;
using CsvHelper;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>An invoice with its lines, as the API and the console show it.</summary>
public sealed record InvoiceView(Invoice Invoice, string CustomerName, IReadOnlyList<InvoiceLine> Lines)
{
    /// <summary>The exact sum of the lines' rounded totals (for a pending invoice, as computed now).</summary>
    public decimal Total => Invoice.State == InvoiceState.Pending ? Lines.Sum(l => l.Total) : Invoice.Total;
}

/// <summary>The invoices a list shows, filtered, not yet ordered or paged.</summary>
public sealed record InvoiceQuery(IQueryable<Invoice> Invoices);

/// <summary>The filters of the invoice list.</summary>
public sealed record InvoiceFilter(string? CustomerUuid = null, string? Year = null, string? Month = null, string? State = null, string? Currency = null);

/// <summary>
/// Invoices for the API (<c>/api/invoices/</c>) and the consoles: who sees what (owners of the buying organization,
/// and staff; a seller never sees a buyer's invoice), the list with its filters, one invoice, its CSV, and staff's
/// guarded moves to paid or canceled.
/// </summary>
public static class InvoiceOperations
{
    /// <summary>The organizations whose invoices the caller reads: those they own (staff: all).</summary>
    public static IQueryable<Guid> ReadableCustomers(CmpDbContext db, Access access) =>
        access.IsStaff
            ? db.Customers.Select(c => c.Id)
            : db.CustomerPermissions.Where(p => p.UserId == access.UserId && p.Role == CustomerRole.Owner).Select(p => p.CustomerId);

    public static IQueryable<Invoice> Visible(CmpDbContext db, Access access)
    {
        var customers = ReadableCustomers(db, access);
        return access.IsStaff ? db.Invoices : db.Invoices.Where(i => customers.Contains(i.CustomerId));
    }

    public static readonly Ordering<Invoice> Ordering = new Ordering<Invoice>("-period")
        .Field("period", i => i.Year * 100 + i.Month)
        .Field("created", i => i.CreatedAt)
        .Field("state", i => i.State)
        .Tiebreak(i => i.Id);

    /// <summary>
    /// The invoices the caller reads, filtered; the organizations' open months are computed first (for a filtered
    /// organization, or all of a non-staff caller's own), so pending totals are current. Staff's unfiltered list shows
    /// pending totals as of the job's last refresh; each invoice's own page is always computed afresh.
    /// </summary>
    public static async Task<Outcome<InvoiceQuery>> QueryAsync(CmpDbContext db, Access access, InvoiceFilter filter, DateTime now, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var invoices = Visible(db, access).AsNoTracking();
        Guid? customerId = null;
        if (filter.CustomerUuid is not null)
        {
            if (!Refs.TryParse(filter.CustomerUuid, out var id))
            {
                errors.Add("customer_uuid", "Enter a valid uuid.");
            }
            else
            {
                customerId = id;
                invoices = invoices.Where(i => i.CustomerId == id);
            }
        }
        if (filter.Year is not null)
        {
            if (int.TryParse(filter.Year, NumberStyles.None, CultureInfo.InvariantCulture, out var year) && year is >= 2000 and <= 9999)
            {
                invoices = invoices.Where(i => i.Year == year);
            }
            else
            {
                errors.Add("year", "Enter a year such as 2026.");
            }
        }
        if (filter.Month is not null)
        {
            if (int.TryParse(filter.Month, NumberStyles.None, CultureInfo.InvariantCulture, out var month) && month is >= 1 and <= 12)
            {
                invoices = invoices.Where(i => i.Month == month);
            }
            else
            {
                errors.Add("month", "Enter a month from 1 to 12.");
            }
        }
        if (filter.State is not null)
        {
            if (TryParseState(filter.State, out var state))
            {
                invoices = invoices.Where(i => i.State == state);
            }
            else
            {
                errors.Add("state", "Choose one of: pending, created, paid, canceled.");
            }
        }
        if (filter.Currency is not null)
        {
            var currency = filter.Currency.Trim().ToUpperInvariant();
            invoices = invoices.Where(i => i.Currency == currency);
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var refresh = customerId is { } one
            ? await ReadableCustomers(db, access).Where(c => c == one).ToListAsync(ct)
            : access.IsStaff ? [] : await ReadableCustomers(db, access).Distinct().ToListAsync(ct);
        foreach (var customer in refresh)
        {
            await InvoiceBook.RefreshCustomerAsync(db, customer, now, ct);
        }
        return new InvoiceQuery(invoices);
    }

    /// <summary>Lines and names for a page of invoices.</summary>
    public static async Task<List<InvoiceView>> ViewsAsync(CmpDbContext db, IReadOnlyList<Invoice> invoices, CancellationToken ct)
    {
        var ids = invoices.Select(i => i.CustomerId).Distinct().ToList();
        var names = await db.Customers.AsNoTracking().Where(c => ids.Contains(c.Id)).ToDictionaryAsync(c => c.Id, c => c.Name, ct);
        var views = new List<InvoiceView>(invoices.Count);
        foreach (var invoice in invoices)
        {
            views.Add(new InvoiceView(invoice, names.GetValueOrDefault(invoice.CustomerId, ""), await InvoiceBook.LinesAsync(db, invoice, ct)));
        }
        return views;
    }

    /// <summary>One invoice the caller reads (another organization's is not found); a pending one is computed now.</summary>
    public static async Task<Outcome<InvoiceView>> GetAsync(CmpDbContext db, Access access, string uuid, DateTime now, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id))
        {
            return Problems.NotFound("invoice");
        }
        var found = await Visible(db, access).AsNoTracking().Where(i => i.Id == id)
            .Select(i => new { Invoice = i, Name = db.Customers.Where(c => c.Id == i.CustomerId).Select(c => c.Name).FirstOrDefault() })
            .FirstOrDefaultAsync(ct);
        if (found is null)
        {
            return Problems.NotFound("invoice");
        }
        var invoice = found.Invoice;
        var view = new InvoiceView(invoice, found.Name ?? "", await InvoiceBook.LinesAsync(db, invoice, ct));
        if (invoice.State == InvoiceState.Pending && invoice.Total != view.Total)
        {
            var total = view.Total;
            await db.Invoices.Where(i => i.Id == id && i.State == InvoiceState.Pending).ExecuteUpdateAsync(s => s.SetProperty(i => i.Total, total), ct);
        }
        return view;
    }

    /// <summary>
    /// What one resource costs so far this month: its lines of the customer's pending invoices (computed now). For
    /// the subscription page; null when the caller cannot read the organization's invoices.
    /// </summary>
    public static async Task<List<InvoiceLine>?> MonthSoFarAsync(CmpDbContext db, Access access, Guid customerId, Guid resourceId, DateTime now, CancellationToken ct)
    {
        if (!await ReadableCustomers(db, access).AnyAsync(c => c == customerId, ct))
        {
            return null;
        }
        var items = await InvoiceBook.ComputeAsync(db, BillingScope.Customer(customerId), BillingMonth.Of(now), ct);
        return items.Where(i => i.Resource.Id == resourceId).Select(InvoiceLine.From).ToList();
    }

    /// <summary>
    /// The invoice as CSV (RFC 4180, CRLF, invariant culture), one record per line. Names a buyer or seller typed are
    /// escaped when a spreadsheet would run them as a formula (<c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>).
    /// </summary>
    public static string Csv(InvoiceView view)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions { Injection = CsvInjection.Escape }, leaveOpen: true))
        {
            csv.WriteRecord(
            [
                "invoice_uuid", "customer", "year", "month", "currency", "state", "resource_uuid", "resource_name", "offering_name", "plan_name",
                "component_name", "billing_type", "unit", "quantity", "unit_price", "days_in_month", "total", "start", "end",
            ]);
            var invoice = view.Invoice;
            foreach (var line in view.Lines)
            {
                csv.WriteRecord(
                [
                    invoice.Id.Hex(), view.CustomerName, invoice.Year.ToString(CultureInfo.InvariantCulture), invoice.Month.ToString(CultureInfo.InvariantCulture),
                    invoice.Currency, invoice.State.ToString().ToLowerInvariant(), line.ResourceId.Hex(), line.ResourceName, line.OfferingName, line.PlanName,
                    line.ComponentName, line.BillingType.Screaming(), line.Unit, Plain(line.Quantity), new Money(line.UnitPrice, invoice.Currency).Format(),
                    line.DaysInMonth?.ToString(CultureInfo.InvariantCulture) ?? "", new Money(line.Total, invoice.Currency).Format(),
                    line.Start.ToString("O", CultureInfo.InvariantCulture), line.End.ToString("O", CultureInfo.InvariantCulture),
                ]);
            }
        }
        return text.ToString();
    }

    /// <summary>The CSV's file name: <c>invoice-2026-03-EUR-acme.csv</c>.</summary>
    public static string CsvFileName(InvoiceView view)
    {
        var slug = new string(view.CustomerName.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        return $"invoice-{view.Invoice.Year:D4}-{view.Invoice.Month:D2}-{view.Invoice.Currency}{(slug.Length > 0 ? "-" + slug[..Math.Min(slug.Length, 40)] : "")}.csv";
    }

    /// <summary>
    /// Staff's moves: created → paid, created → canceled. Guarded in the update's WHERE (an invoice marked meanwhile, or
    /// still pending, is a 409); owners see the invoice but may not mark it (403); others do not see it (404).
    /// </summary>
    public static async Task<Outcome<InvoiceView>> MarkAsync(CmpDbContext db, Access access, string uuid, InvoiceState to, DateTime now, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id) || await Visible(db, access).AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, ct) is not { } invoice)
        {
            return Problems.NotFound("invoice");
        }
        if (!access.IsStaff)
        {
            return Problems.Forbidden("Only staff mark invoices paid or canceled.");
        }
        var moved = to switch
        {
            InvoiceState.Paid => await db.Invoices.Where(i => i.Id == id && i.State == InvoiceState.Created)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.State, InvoiceState.Paid).SetProperty(i => i.PaidAt, now)
                    .SetProperty(i => i.MarkedById, access.UserId).SetProperty(i => i.Version, Guid.NewGuid()), ct),
            InvoiceState.Canceled => await db.Invoices.Where(i => i.Id == id && i.State == InvoiceState.Created)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.State, InvoiceState.Canceled).SetProperty(i => i.CanceledAt, now)
                    .SetProperty(i => i.MarkedById, access.UserId).SetProperty(i => i.Version, Guid.NewGuid()), ct),
            _ => throw new ArgumentOutOfRangeException(nameof(to), to, "Staff mark invoices paid or canceled only."),
        };
        if (moved != 1)
        {
            var state = await db.Invoices.Where(i => i.Id == id).Select(i => i.State).FirstAsync(ct);
            var why = state == InvoiceState.Pending
                ? "its month is still open; it can be marked once the month close has frozen it (state created)"
                : $"it is already {state.ToString().ToLowerInvariant()}; only a created invoice can be marked {to.ToString().ToLowerInvariant()}";
            return Problems.Conflict($"The invoice cannot be marked {to.ToString().ToLowerInvariant()}: {why}.", ProblemTypes.InvalidTransition);
        }
        return await GetAsync(db, access, uuid, now, ct);
    }

    public static bool TryParseState(string value, out InvoiceState state) =>
        Enum.TryParse(value, ignoreCase: true, out state) && !int.TryParse(value, out _);

    /// <summary>A decimal without trailing zeros: 14, 0.002, 49.5.</summary>
    public static string Plain(decimal value) => value.ToString("0.############################", CultureInfo.InvariantCulture);
}
