using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Platform;

/// <summary>What the stored-mail list asks for: an exact recipient, a search in subject and recipient, a page.</summary>
public sealed record EmailQuery(string? To = null, string? Search = null, int Page = 1, int PageSize = ListQuery.DefaultPageSize);

/// <summary>An organization as the operator's list shows it.</summary>
public sealed record OrganizationSummary(Guid Id, string Name, string Abbreviation, int Members, ServiceProviderState? ProviderState, DateTime Created);

/// <summary>A platform setting by its exact environment-variable name, and its value as the API writes it.</summary>
public sealed record SettingValue(string Name, string Value);

/// <summary>
/// The operator's operations, written once for the API (<see cref="PlatformEndpoints"/>) and the admin pages. Each
/// refuses anyone who is not staff, whatever the page shows.
/// </summary>
public static class PlatformOperations
{
    /// <summary>The refusal for anyone but staff; null for staff.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? RefuseUnlessStaff(Access access, string what) =>
        access.IsStaff ? null : Problems.Forbidden($"Only staff may {what}.");

    /// <summary>Stored mail, newest first (the v7 id breaks ties between mails of the same instant in creation order).</summary>
    public static async Task<Outcome<Paged<EmailDto>>> ListEmailsAsync(CmpDbContext db, Access access, EmailQuery query, CancellationToken ct)
    {
        if (RefuseUnlessStaff(access, "read the stored mail") is { } refused)
        {
            return refused;
        }
        var emails = db.Emails.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(query.To))
        {
            var address = query.To.Trim().ToLowerInvariant();
            emails = emails.Where(e => e.To == address);
        }
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            emails = emails.Where(e => e.Subject.ToLower().Contains(t) || e.To.Contains(t));
        }
        var page = await emails.OrderByDescending(e => e.CreatedAt).ThenByDescending(e => e.Id).ToPagedAsync(query.Page, query.PageSize, ct);
        return page.Select(e => new EmailDto(e.Id.Hex(), e.To, e.Subject, e.Body, e.Delivery, e.CreatedAt, e.SentAt));
    }

    /// <summary>Every organization by name, with how many people hold a role in it and its provider registration, if any.</summary>
    public static async Task<Outcome<Paged<OrganizationSummary>>> ListOrganizationsAsync(
        CmpDbContext db, Access access, string? search, int page, int pageSize, CancellationToken ct)
    {
        if (RefuseUnlessStaff(access, "list every organization") is { } refused)
        {
            return refused;
        }
        var customers = db.Customers.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var t = search.Trim().ToLowerInvariant();
            customers = customers.Where(c => c.Name.ToLower().Contains(t) || c.Abbreviation.ToLower().Contains(t));
        }
        return await customers.OrderBy(c => c.Name).ThenBy(c => c.Id)
            .Select(c => new OrganizationSummary(
                c.Id, c.Name, c.Abbreviation,
                db.CustomerPermissions.Count(p => p.CustomerId == c.Id),
                db.ServiceProviders.Where(s => s.CustomerId == c.Id).Select(s => (ServiceProviderState?)s.State).FirstOrDefault(),
                c.CreatedAt))
            .ToPagedAsync(page, pageSize, ct);
    }

    /// <summary>The platform's settings by exact name: the values <c>GET /api/configuration/</c> answers, for the operator's read-only view.</summary>
    public static Outcome<List<SettingValue>> Settings(Access access, PlatformSettings settings)
    {
        if (RefuseUnlessStaff(access, "read the platform settings") is { } refused)
        {
            return refused;
        }
        // Written as the JSON shows them (true/false in lower case).
        return settings.Public().Select(s => new SettingValue(s.Key, s.Value switch
        {
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            var other => other.ToString() ?? "",
        })).ToList();
    }
}
