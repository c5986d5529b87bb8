using Cmp.Flows.Components;

namespace Cmp.Flows.Tests.Components;

public sealed class SafeCalculatorTests
{
    [Theory]
    [InlineData("2 + 3 * 4", "14")]
    [InlineData("(2 + 3) * 4", "20")]
    [InlineData("10 - 4 - 3", "3")]
    [InlineData("100 / 10 / 5", "2")]
    [InlineData("2 ** 3 ** 2", "512")]
    [InlineData("(2 ** 3) ** 2", "64")]
    [InlineData("-2 ** 2", "-4")]
    [InlineData("(-2) ** 2", "4")]
    [InlineData("2 ** -1", "0.5")]
    [InlineData("2 ** -2 ** 2", "0.0625")]
    [InlineData("--3", "3")]
    [InlineData("+-+3", "-3")]
    [InlineData("2 * -3", "-6")]
    [InlineData("7 // 2", "3")]
    [InlineData("-7 // 2", "-4")]
    [InlineData("7 // -2", "-4")]
    [InlineData("-7 % 2", "1")]
    [InlineData("7 % -2", "-1")]
    [InlineData("-7.5 // 2", "-4")]
    [InlineData("7.5 % 2", "1.5")]
    [InlineData("2 + 10 % 4 * 3", "8")]
    [InlineData("5 / 2", "2.5")]
    [InlineData("1 / 3", "0.333333")]
    [InlineData("2 / 3", "0.666667")]
    [InlineData("0.1 + 0.2", "0.3")]
    [InlineData(".5 + 5.", "5.5")]
    [InlineData("1e3 + 2.5E-1", "1000.25")]
    [InlineData("4", "4")]
    [InlineData("  ( 1 +\t2 )\n* 3  ", "9")]
    [InlineData("-0.0000001", "0")]
    [InlineData("2 ** 0.5", "1.414214")]
    [InlineData("10 ** 20", "100000000000000000000")]
    public void Evaluates_WithPythonSemantics_AndLangflowFormatting(string expression, string expected)
    {
        var result = SafeCalculator.Evaluate(expression);
        Assert.True(result.Ok, result.Error);
        Assert.Null(result.Error);
        Assert.Equal(expected, result.Text);
    }

    [Fact]
    public void Value_IsTheUnroundedDouble()
    {
        var result = SafeCalculator.Evaluate("1 / 3");
        Assert.Equal(1.0 / 3, result.Value);
        Assert.Equal("0.333333", result.Text);
    }

    [Theory]
    [InlineData("__import__('os')")]
    [InlineData("__import__('os').system('ls')")]
    [InlineData("abs(1)")]
    [InlineData("x + 1")]
    [InlineData("'a' * 3")]
    [InlineData("1, 2")]
    [InlineData("(1).real")]
    [InlineData("2(3)")]
    [InlineData("[1][0]")]
    [InlineData("1 < 2")]
    [InlineData("~1")]
    [InlineData("1 if 1 else 2")]
    [InlineData("lambda: 1")]
    public void RejectsAnythingButArithmetic(string expression)
    {
        var result = SafeCalculator.Evaluate(expression);
        Assert.False(result.Ok);
        Assert.StartsWith("Unsupported", result.Error);
        Assert.Equal(result.Error, result.Text);
        Assert.Equal(0, result.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("(1 + 2")]
    [InlineData("1 + 2)")]
    [InlineData("((1)")]
    [InlineData("()")]
    [InlineData("1 +")]
    [InlineData("* 2")]
    [InlineData("1 2")]
    [InlineData("2 *** 2")]
    [InlineData("1e")]
    [InlineData("1.2.3")]
    [InlineData("012")]
    [InlineData("1_000")]
    [InlineData("1 $ 2")]
    public void MalformedExpressions_AreInvalid(string expression)
    {
        var result = SafeCalculator.Evaluate(expression);
        Assert.False(result.Ok);
        Assert.StartsWith("Invalid expression: ", result.Error);
    }

    [Fact]
    public void Null_IsAnError_NotAnException()
    {
        var result = SafeCalculator.Evaluate(null!);
        Assert.False(result.Ok);
        Assert.StartsWith("Invalid expression: ", result.Error);
    }

    [Theory]
    [InlineData("1 / 0")]
    [InlineData("1 / (2 - 2)")]
    [InlineData("5 // 0")]
    [InlineData("5 % 0.0")]
    [InlineData("0 ** -1")]
    public void DivisionByZero_IsAnError(string expression)
    {
        var result = SafeCalculator.Evaluate(expression);
        Assert.False(result.Ok);
        Assert.Equal("Error: division by zero", result.Error);
    }

    [Fact]
    public void SyntaxErrors_WinOverDivisionByZero()
    {
        Assert.StartsWith("Invalid expression: ", SafeCalculator.Evaluate("1 / 0 +").Error);
    }

    [Theory]
    [InlineData("2 ** 1001")]
    [InlineData("2 ** -1001")]
    [InlineData("9 ** 9 ** 9")]
    [InlineData("10 ** 400")]
    [InlineData("1e308 * 10")]
    [InlineData("1e400")]
    [InlineData("(-8) ** (1 / 3)")]
    public void HugeOrNonRealResults_AreErrors(string expression)
    {
        var result = SafeCalculator.Evaluate(expression);
        Assert.False(result.Ok);
        Assert.StartsWith("Invalid expression: ", result.Error);
    }

    [Fact]
    public void ExponentAtTheLimit_IsAllowed()
    {
        var result = SafeCalculator.Evaluate("1.001 ** 1000");
        Assert.True(result.Ok, result.Error);
        Assert.Equal("2.716924", result.Text);
    }

    [Fact]
    public void LengthLimit_Is500Characters()
    {
        var atLimit = "1" + string.Concat(Enumerable.Repeat("+1", 249)) + " ";
        Assert.Equal(500, atLimit.Length);
        Assert.Equal("250", SafeCalculator.Evaluate(atLimit).Text);

        var tooLong = atLimit + "+";
        var result = SafeCalculator.Evaluate(tooLong);
        Assert.False(result.Ok);
        Assert.Contains("500", result.Error);
    }

    [Fact]
    public void NestingLimit_Is50Levels()
    {
        Assert.Equal("1", SafeCalculator.Evaluate(new string('(', 50) + "1" + new string(')', 50)).Text);

        var result = SafeCalculator.Evaluate(new string('(', 51) + "1" + new string(')', 51));
        Assert.False(result.Ok);
        Assert.Contains("50", result.Error);
    }

    [Theory]
    [InlineData(4.0, "4")]
    [InlineData(2.5, "2.5")]
    [InlineData(-0.125, "-0.125")]
    [InlineData(1234567.0000004, "1234567")]
    [InlineData(0.0000006, "0.000001")]
    [InlineData(-0.0, "0")]
    public void Format_TrimsTrailingZeros_InvariantCulture(double value, string expected)
    {
        Assert.Equal(expected, SafeCalculator.Format(value));
    }
}
