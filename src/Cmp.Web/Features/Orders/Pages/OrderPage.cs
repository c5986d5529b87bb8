using Cmp.Web.Components;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Components;

namespace Cmp.Web.Features.Orders.Pages;

/// <summary>
/// Base of the order pages: the order operations mail approvers, so each call gets a mailer over the same pooled
/// context, and CMP's public address for the links in those mails (as the API's <c>Refs.BaseUrl</c> gives it).
/// </summary>
public abstract class OrderPage : ConsolePage
{
    [Inject]
    protected IConfiguration Configuration { get; set; } = default!;

    [Inject]
    protected ILogger<EmailSender> MailLogger { get; set; } = default!;

    [Inject]
    protected Cmp.Web.Infrastructure.Http.PublicAddress Addresses { get; set; } = default!;

    protected EmailSender Mailer(CmpDbContext db) => new(db, Configuration, MailLogger);

    protected string BaseUrl =>
        Addresses.BaseUrl;
}
