using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Tests.Infrastructure;
using Cmp.Web.Tests.Peers;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Accounts;

public sealed class SmtpFactory : CmpFactory
{
    public SmtpPeer Smtp { get; } = new();

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Smtp:Host"] = "127.0.0.1",
        ["Smtp:Port"] = Smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Smtp:Security"] = "none",
        ["Smtp:From"] = "CMP <no-reply@cmp.test>",
    };

    public override async Task DisposeAsyncCore()
    {
        await base.DisposeAsyncCore();
        await Smtp.DisposeAsync();
    }
}

public sealed class SmtpTests(SmtpFactory factory) : IClassFixture<SmtpFactory>
{
    [Fact]
    public async Task SignUp_WithSmtpHost_DeliversTheVerificationMailOverSmtp_AndStoresIt()
    {
        var api = new Api(factory);
        var email = $"smtp-{Guid.NewGuid():N}@example.com";
        await Json.ReadAsync(await api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "S" }), HttpStatusCode.Created);
        var message = await factory.Smtp.WaitForAsync(email, TimeSpan.FromSeconds(10));
        Assert.Equal("Verify your email address for CMP", message.Subject);
        Assert.Equal("no-reply@cmp.test", message.From.Mailboxes.Single().Address);
        Assert.Contains("token=", message.TextBody);
        var stored = await factory.WithDbAsync(db => db.Emails.SingleAsync(e => e.To == email));
        Assert.Equal("sent", stored.Delivery);
        Assert.NotNull(stored.SentAt);
    }
}

/// <summary>SMTP configured but nobody listening: the mail is kept and marked failed; sign-up still succeeds.</summary>
public sealed class DeadSmtpFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Smtp:Host"] = "127.0.0.1",
        ["Smtp:Port"] = "1", // nothing listens on port 1 here
        ["Smtp:Security"] = "none",
    };
}

public sealed class DeadSmtpTests(DeadSmtpFactory factory) : IClassFixture<DeadSmtpFactory>
{
    [Fact]
    public async Task SignUp_SmtpDown_KeepsTheMailAsFailed()
    {
        var api = new Api(factory);
        var email = $"dead-{Guid.NewGuid():N}@example.com";
        await Json.ReadAsync(await api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "D" }), HttpStatusCode.Created);
        var stored = await factory.WithDbAsync(db => db.Emails.SingleAsync(e => e.To == email));
        Assert.Equal("failed", stored.Delivery);
        Assert.Contains("token=", stored.Body);
    }
}
