using System.Net;
using Cmp.Web.Tests.Infrastructure;

namespace Cmp.Web.Tests.Billing;

/// <summary><c>PLATFORM_FEE_PERCENT</c>: a number from 0 to 100, shown in the public configuration; anything else stops the start.</summary>
public sealed class PlatformFeeSettingTests
{
    private sealed class FeeFactory(string value) : CmpFactory
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["PLATFORM_FEE_PERCENT"] = value };
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-5")]
    [InlineData("100.5")]
    [InlineData("12,5")]
    public async Task BadValue_StopsTheStart_NamingTheSetting(string value)
    {
        await using var factory = new FeeFactory(value);
        await factory.InitializeAsync();
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("PLATFORM_FEE_PERCENT", error.ToString());
    }

    [Fact]
    public async Task GoodValue_IsPublic()
    {
        await using var factory = new FeeFactory("7.25");
        await factory.InitializeAsync();
        var config = await Json.ReadAsync(await factory.CreateClient().GetAsync("/api/configuration/"), HttpStatusCode.OK);
        Assert.Equal("7.25", config["PLATFORM_FEE_PERCENT"]!.GetValue<string>());
    }
}
