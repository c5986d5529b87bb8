using System.Globalization;

namespace Cmp.Web.Features.Billing;

/// <summary>
/// An exact amount of money in one currency (ISO 4217). Arithmetic keeps every digit (decimal, never float);
/// <see cref="Round"/> rounds half-even to the currency's minor unit, which is how invoice items are totalled.
/// Amounts of different currencies never mix: adding them throws.
/// </summary>
public readonly record struct Money(decimal Amount, string Currency)
{
    /// <summary>Currencies whose minor unit is not the cent (ISO 4217's exponent); every other currency has 2 digits.</summary>
    private static readonly Dictionary<string, int> Exponents = new(StringComparer.Ordinal)
    {
        ["BIF"] = 0,
        ["CLP"] = 0,
        ["DJF"] = 0,
        ["GNF"] = 0,
        ["ISK"] = 0,
        ["JPY"] = 0,
        ["KMF"] = 0,
        ["KRW"] = 0,
        ["PYG"] = 0,
        ["RWF"] = 0,
        ["UGX"] = 0,
        ["UYI"] = 0,
        ["VND"] = 0,
        ["VUV"] = 0,
        ["XAF"] = 0,
        ["XOF"] = 0,
        ["XPF"] = 0,
        ["BHD"] = 3,
        ["IQD"] = 3,
        ["JOD"] = 3,
        ["KWD"] = 3,
        ["LYD"] = 3,
        ["OMR"] = 3,
        ["TND"] = 3,
        ["CLF"] = 4,
        ["UYW"] = 4,
    };

    /// <summary>Digits after the decimal point in the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD).</summary>
    public static int MinorDigits(string currency) => Exponents.TryGetValue(currency, out var digits) ? digits : 2;

    public static Money Zero(string currency) => new(0m, currency);

    /// <summary>Rounded half-even (banker's rounding) to the currency's minor unit: 0.125 EUR → 0.12, 0.135 EUR → 0.14.</summary>
    public Money Round() => this with { Amount = Math.Round(Amount, MinorDigits(Currency), MidpointRounding.ToEven) };

    public static Money operator +(Money a, Money b) => new(a.Amount + b.Amount, Same(a, b));

    public static Money operator -(Money a, Money b) => new(a.Amount - b.Amount, Same(a, b));

    public static Money operator *(Money a, decimal factor) => a with { Amount = a.Amount * factor };

    /// <summary>The amount as the wire shows it: invariant culture, the currency's minor digits at least ("49.00", "0.002").</summary>
    public string Format()
    {
        var digits = MinorDigits(Currency);
        var text = Amount.ToString("0.############################", CultureInfo.InvariantCulture);
        var dot = text.IndexOf('.');
        var have = dot < 0 ? 0 : text.Length - dot - 1;
        return have >= digits ? text : (dot < 0 && digits > 0 ? text + "." : text) + new string('0', digits - have);
    }

    public override string ToString() => $"{Format()} {Currency}";

    private static string Same(Money a, Money b) =>
        a.Currency == b.Currency ? a.Currency : throw new InvalidOperationException($"Cannot combine {a.Currency} and {b.Currency}.");
}
