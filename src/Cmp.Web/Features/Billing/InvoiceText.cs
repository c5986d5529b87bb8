using System.Globalization;

namespace Cmp.Web.Features.Billing;

/// <summary>How the console words invoices: periods, states, quantities and amounts (invariant culture, like the API).</summary>
public static class InvoiceText
{
    /// <summary>"April 2026".</summary>
    public static string Period(int year, int month) =>
        new DateTime(year, month, 1, 0, 0, 0, DateTimeKind.Utc).ToString("MMMM yyyy", CultureInfo.InvariantCulture);

    public static string Period(BillingMonth month) => Period(month.Year, month.Month);

    /// <summary>What the state means to a buyer: the open month, an invoice to pay, paid, canceled.</summary>
    public static string StateName(InvoiceState state) => state switch
    {
        InvoiceState.Pending => "Open month",
        InvoiceState.Created => "Due",
        InvoiceState.Paid => "Paid",
        InvoiceState.Canceled => "Canceled",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>"12.50 EUR": the amount as the API formats it, and its currency.</summary>
    public static string Amount(decimal amount, string currency) => $"{new Money(amount, currency).Format()} {currency}";

    /// <summary>"14 of 30 days" (FIXED), "3 invocations", "2 × 1k tokens", "1 month" (LIMIT), "once" (ONE_TIME).</summary>
    public static string Quantity(InvoiceLine line)
    {
        var n = InvoiceOperations.Plain(line.Quantity);
        var one = line.Quantity == 1;
        return line.BillingType switch
        {
            BillingType.Fixed => $"{n} of {line.DaysInMonth} days",
            BillingType.OneTime => "once",
            BillingType.Limit => one ? "1 month" : $"{n} months",
            BillingType.Usage when line.Unit == MeteredUnits.ThousandTokens => $"{n} × 1k tokens",
            BillingType.Usage when line.Unit == MeteredUnits.Invocation => one ? "1 invocation" : $"{n} invocations",
            _ => $"{n} {line.Unit}",
        };
    }

    /// <summary>"30.00 EUR per month" (FIXED: the monthly price, pro-rated by days), "0.01 EUR per invocation", "5.00 EUR once".</summary>
    public static string UnitPrice(InvoiceLine line, string currency)
    {
        var amount = Amount(line.UnitPrice, currency);
        return line.BillingType switch
        {
            BillingType.Fixed or BillingType.Limit => $"{amount} per month",
            BillingType.OneTime => $"{amount} once",
            BillingType.Usage => $"{amount} per {PlanText.UnitName(line.Unit)}",
            _ => amount,
        };
    }

    /// <summary>"2026-04-30 18:00 UTC", or a dash.</summary>
    public static string Time(DateTime? utc) =>
        utc is { } t ? t.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : "—";
}
