using Cmp.Web.Infrastructure.Persistence;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using MimeKit;

namespace Cmp.Web.Infrastructure.Email;

/// <summary>Every message the platform sends is kept; staff read them at <c>GET /api/admin/emails/</c>.</summary>
public sealed class OutgoingEmail : Entity
{
    public required string To { get; set; }
    public required string Subject { get; set; }
    public required string Body { get; set; }
    /// <summary><c>stored</c> (no SMTP configured), <c>sent</c> or <c>failed</c>.</summary>
    public string Delivery { get; set; } = "stored";
    public DateTime? SentAt { get; set; }
}

internal sealed class OutgoingEmailConfiguration : IEntityTypeConfiguration<OutgoingEmail>
{
    public void Configure(EntityTypeBuilder<OutgoingEmail> b)
    {
        b.ToTable("emails");
        b.Property(e => e.To).HasMaxLength(254);
        b.Property(e => e.Subject).HasMaxLength(300);
        b.Property(e => e.Delivery).HasMaxLength(20);
        b.HasIndex(e => e.CreatedAt);
    }
}

public sealed class SmtpOptions
{
    public string? Host { get; set; }
    public int Port { get; set; } = 25;
    public string? Username { get; set; }
    public string? Password { get; set; }
    public string From { get; set; } = "CMP <no-reply@cmp.local>";
    /// <summary><c>auto</c> (STARTTLS when offered), <c>none</c>, <c>starttls</c> or <c>tls</c>.</summary>
    public string Security { get; set; } = "auto";
}

/// <summary>
/// Stores the message, then delivers it over SMTP (MailKit) when <c>Smtp__Host</c> is set.
/// A delivery failure is recorded on the message and logged (without the body); it does not
/// fail the request that caused the mail.
/// </summary>
public sealed class EmailSender(CmpDbContext db, IConfiguration configuration, ILogger<EmailSender> logger)
{
    public async Task SendAsync(string to, string subject, string body, CancellationToken ct)
    {
        var email = new OutgoingEmail { To = to, Subject = subject, Body = body };
        db.Emails.Add(email);
        await db.SaveChangesAsync(ct);
        await DeliverAsync(email, ct);
    }

    /// <summary>
    /// Delivers a message already stored (by this sender's context), for writers that store mail in
    /// the transaction of what caused it and deliver after the commit, so that a rolled back change mails nobody.
    /// </summary>
    public async Task DeliverAsync(OutgoingEmail email, CancellationToken ct)
    {
        if (db.Entry(email).State == EntityState.Detached)
        {
            db.Emails.Attach(email); // stored by a writer that has cleared its change tracker since
        }
        var to = email.To;
        var subject = email.Subject;
        var body = email.Body;
        var options = configuration.GetSection("Smtp").Get<SmtpOptions>() ?? new SmtpOptions();
        if (string.IsNullOrWhiteSpace(options.Host))
        {
            return;
        }
        try
        {
            var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse(options.From));
            message.To.Add(MailboxAddress.Parse(to));
            message.Subject = subject;
            message.Body = new TextPart("plain") { Text = body };
            using var client = new SmtpClient { Timeout = 15_000 };
            var security = options.Security.ToLowerInvariant() switch
            {
                "none" => SecureSocketOptions.None,
                "starttls" => SecureSocketOptions.StartTls,
                "tls" => SecureSocketOptions.SslOnConnect,
                _ => SecureSocketOptions.Auto,
            };
            await client.ConnectAsync(options.Host, options.Port, security, ct);
            if (!string.IsNullOrEmpty(options.Username))
            {
                await client.AuthenticateAsync(options.Username, options.Password ?? "", ct);
            }
            await client.SendAsync(message, ct);
            await client.DisconnectAsync(true, ct);
            email.Delivery = "sent";
            email.SentAt = DateTime.UtcNow;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("SMTP delivery of email {EmailId} to {Host} failed: {Error}", email.Id, options.Host, ex.Message);
            email.Delivery = "failed";
        }
        await db.SaveChangesAsync(CancellationToken.None);
    }
}
