namespace Cmp.Web.Features.Billing;

/// <summary>How the UI words a plan's prices: amounts with <see cref="Money.Format"/> in the plan's currency, per billing type.</summary>
public static class PlanText
{
    public static string BillingTypeName(string billingType) => billingType switch
    {
        "FIXED" => "Monthly fee",
        "USAGE" => "Pay per use",
        "ONE_TIME" => "Setup fee",
        "LIMIT" => "Monthly allowance",
        _ => billingType,
    };

    public static string UnitName(string unit) => unit switch
    {
        MeteredUnits.Invocation => "invocation",
        MeteredUnits.ThousandTokens => "1k tokens",
        _ => unit,
    };

    /// <summary>"1000 invocations", "500k tokens".</summary>
    public static string Quantity(long? amount, string unit) => unit switch
    {
        MeteredUnits.ThousandTokens => $"{amount}k tokens",
        MeteredUnits.Invocation => $"{amount} invocations",
        _ => $"{amount} {unit}",
    };

    /// <summary>"49.00 EUR per month", "0.002 EUR per invocation", "99.00 EUR once", "19.00 EUR per month for 1000 invocations" (past that the gateway refuses until next month).</summary>
    public static string Price(PlanComponentDto c, string currency)
    {
        var amount = PlanOperations.FormatPrice(c.Price, currency);
        return c.BillingType switch
        {
            "FIXED" => $"{amount} per month",
            "USAGE" => $"{amount} per {UnitName(c.MeasuredUnit)}",
            "ONE_TIME" => $"{amount} once",
            "LIMIT" => $"{amount} per month for {Quantity(c.LimitAmount, c.MeasuredUnit)}",
            _ => amount,
        };
    }

    /// <summary>The whole plan on one line, e.g. for a radio button's label.</summary>
    public static string Summary(PlanDto plan) => string.Join(" + ", plan.Components.Select(c => Price(c, plan.Currency)));
}
