using Cmp.Web.Features.Billing;

namespace Cmp.Web.Tests.Billing;

/// <summary>Pure arithmetic of <see cref="Money"/>: exact decimals, half-even rounding to each currency's minor unit.</summary>
public sealed class MoneyTests
{
    [Theory]
    [InlineData("0.125", "EUR", "0.12")]
    [InlineData("0.135", "EUR", "0.14")]
    [InlineData("-0.125", "EUR", "-0.12")]
    [InlineData("2.5", "JPY", "2")]
    [InlineData("3.5", "JPY", "4")]
    [InlineData("1.0005", "KWD", "1.000")]
    [InlineData("1.0015", "KWD", "1.002")]
    [InlineData("49", "USD", "49")]
    public void Round_IsHalfEven_ToTheCurrencysMinorUnit(string amount, string currency, string expected) =>
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture),
            new Money(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), currency).Round().Amount);

    [Fact]
    public void Arithmetic_IsExact_AndCurrenciesNeverMix()
    {
        var third = new Money(10m, "EUR") * (1m / 3m);
        Assert.Equal(3.33m, third.Round().Amount);
        Assert.Equal(new Money(0.3m, "EUR"), new Money(0.1m, "EUR") + new Money(0.2m, "EUR")); // no binary float: 0.1 + 0.2 is 0.3
        Assert.Throws<InvalidOperationException>(() => new Money(1m, "EUR") + new Money(1m, "USD"));
        Assert.Throws<InvalidOperationException>(() => new Money(1m, "EUR") - new Money(1m, "JPY"));
    }

    [Theory]
    [InlineData("49", "EUR", "49.00")]
    [InlineData("0.002", "EUR", "0.002")]
    [InlineData("1000", "JPY", "1000")]
    [InlineData("1.5", "KWD", "1.500")]
    public void Format_ShowsAtLeastTheMinorDigits_AndNeverDropsOne(string amount, string currency, string expected) =>
        Assert.Equal(expected, new Money(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), currency).Format());
}
