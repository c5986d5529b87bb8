using System.Globalization;
using Cmp.Web.Features.Billing;

namespace Cmp.Web.Features.Offerings;

/// <summary>
/// A plan's price components in words, as a buyer reads them: FIXED "€49.00 / month", USAGE "€0.02 per invocation",
/// ONE_TIME "€100.00 setup fee", LIMIT "1,000 invocations per month included". Amounts keep every digit the seller
/// set (<see cref="Money.Format"/>): a price is never rounded away.
/// </summary>
public static class PriceText
{
    private static readonly Dictionary<string, string> Symbols = new(StringComparer.Ordinal)
    {
        ["EUR"] = "€",
        ["USD"] = "$",
        ["GBP"] = "£",
    };

    public static string Amount(string price, string currency)
    {
        var amount = decimal.Parse(price, NumberStyles.Number, CultureInfo.InvariantCulture);
        var text = new Money(amount, currency).Format();
        return Symbols.TryGetValue(currency, out var symbol) ? symbol + text : $"{text} {currency}";
    }

    public static string Describe(PlanComponentDto component, string currency)
    {
        var amount = Amount(component.Price, currency);
        return component.BillingType switch
        {
            "FIXED" => $"{amount} / month",
            "USAGE" => $"{amount} per {Unit(component.MeasuredUnit, 1)}",
            "ONE_TIME" => $"{amount} setup fee",
            "LIMIT" => Limit(component, amount),
            _ => $"{amount} ({component.BillingType})",
        };
    }

    private static string Limit(PlanComponentDto component, string amount)
    {
        var count = component.LimitAmount ?? 0;
        var included = $"{count.ToString("N0", CultureInfo.InvariantCulture)} {Unit(component.MeasuredUnit, count)} per month included";
        return decimal.Parse(component.Price, NumberStyles.Number, CultureInfo.InvariantCulture) == 0 ? included : $"{included}, {amount} / month";
    }

    private static string Unit(string measured, long count) => measured switch
    {
        MeteredUnits.ThousandTokens => count == 1 ? "1k tokens" : "thousand tokens",
        MeteredUnits.Invocation or "" => count == 1 ? "invocation" : "invocations",
        _ => measured,
    };
}
