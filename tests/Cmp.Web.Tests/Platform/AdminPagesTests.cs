using System.Net;
using System.Security.Claims;
using Bunit;
using Cmp.Web.Components;
using Cmp.Web.Features.Platform;
using Cmp.Web.Features.Platform.Pages;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace Cmp.Web.Tests.Platform;

/// <summary>
/// The operator's console pages rendered with bUnit over the running application's database and settings, and the
/// operations behind them refusing anyone but staff.
/// </summary>
public sealed class AdminPagesTests(CmpFactory factory) : IClassFixture<CmpFactory>, IDisposable
{
    private readonly Api _api = new(factory);
    private readonly BunitContext _ui = NewContext(factory);

    private static BunitContext NewContext(CmpFactory factory)
    {
        var ui = new BunitContext();
        ui.JSInterop.Mode = JSRuntimeMode.Loose;
        ui.Services.AddMudServices();
        ui.Services.AddSingleton(factory.Services.GetRequiredService<IDbContextFactory<CmpDbContext>>());
        ui.Services.AddSingleton(factory.Services.GetRequiredService<PlatformSettings>());
        return ui;
    }

    public void Dispose() => _ui.Dispose();

    private Task<ClaimsPrincipal> PrincipalAsync(string email) =>
        factory.WithDbAsync(async db => CookieSignIn.Principal(await db.Users.SingleAsync(u => u.Email == email)));

    private IRenderedComponent<TPage> Render<TPage>(ClaimsPrincipal user) where TPage : IComponent =>
        _ui.Render<TPage>(p => p.AddCascadingValue(new Workspace { User = user, Organizations = [] }));

    private async Task<T> AsAsync<T>(ClaimsPrincipal user, Func<CmpDbContext, Access, Task<T>> work)
    {
        await using var db = await factory.Services.GetRequiredService<IDbContextFactory<CmpDbContext>>().CreateDbContextAsync();
        return await work(db, new Access(db, user));
    }

    [Fact]
    public async Task Emails_Staff_SeeTheVerificationMail_WithItsLink()
    {
        var email = $"reader-{Guid.NewGuid():N}@example.com";
        await Json.ReadAsync(await _api.Anonymous().PostAsync("/api/auth/signup/", Json.Raw($"{{\"email\":\"{email}\",\"password\":\"{Api.Password}\",\"full_name\":\"R\"}}")), HttpStatusCode.Created);

        var page = Render<AdminEmails>(await PrincipalAsync(CmpFactory.StaffEmail));
        page.WaitForAssertion(() => Assert.Contains(email, page.Markup));
        Assert.Contains("<h1", page.Markup);
        var link = page.FindAll("details a").Select(a => a.GetAttribute("href")).First(h => h!.Contains("token="));
        Assert.Contains("verify-email?token=", link);
    }

    [Fact]
    public async Task Organizations_Staff_SeeEveryOrganization_WithMembersAndProvider()
    {
        var seller = await _api.NewSellerAsync("Listed Seller Ltd");
        var page = Render<AdminOrganizations>(await PrincipalAsync(CmpFactory.StaffEmail));
        page.WaitForAssertion(() => Assert.Contains("Listed Seller Ltd", page.Markup));
        var row = page.FindAll("tbody tr").Single(r => r.TextContent.Contains("Listed Seller Ltd"));
        Assert.Equal($"/organizations/{seller.Customer}/settings", row.QuerySelector("a")!.GetAttribute("href"));
        var cells = row.QuerySelectorAll("td").Select(c => c.TextContent.Trim()).ToList();
        Assert.Equal("1", cells[2]);
        Assert.Equal("Active", cells[3]);
    }

    [Fact]
    public async Task Settings_Staff_SeeTheConfigurationValues()
    {
        var page = Render<AdminSettings>(await PrincipalAsync(CmpFactory.StaffEmail));
        page.WaitForAssertion(() => Assert.Contains("EMAIL_VERIFICATION_REQUIRED", page.Markup));
        var row = page.FindAll("tbody tr").Single(r => r.TextContent.Contains("CMP_LLM"));
        Assert.Contains("dev", row.TextContent);
    }

    [Fact]
    public async Task AdminPages_NonStaff_SeeNotFound_AndTheOperationsRefuse()
    {
        var user = await _api.NewUserAsync();
        var principal = await PrincipalAsync(user.Email);
        Assert.Contains("Not found", Render<AdminEmails>(principal).Markup);
        Assert.Contains("Not found", Render<AdminOrganizations>(principal).Markup);
        Assert.Contains("Not found", Render<AdminSettings>(principal).Markup);
        Assert.DoesNotContain(CmpFactory.StaffEmail, Render<AdminEmails>(principal).Markup);

        var emails = await AsAsync(principal, (db, access) => PlatformOperations.ListEmailsAsync(db, access, new EmailQuery(), default));
        Assert.Equal(403, emails.Problem!.Status);
        Assert.Equal(ProblemTypes.Forbidden, emails.Problem.Type);
        var organizations = await AsAsync(principal, (db, access) => PlatformOperations.ListOrganizationsAsync(db, access, null, 1, 10, default));
        Assert.Equal(403, organizations.Problem!.Status);
        var settings = await AsAsync(principal, (_, access) => Task.FromResult(PlatformOperations.Settings(access, factory.Services.GetRequiredService<PlatformSettings>())));
        Assert.Equal(403, settings.Problem!.Status);
    }

    [Fact]
    public async Task Organizations_Operation_SearchesAndPages()
    {
        var owner = await _api.NewUserAsync();
        var prefix = "Pagewise " + Guid.NewGuid().ToString("N")[..6];
        for (var i = 0; i < 3; i++)
        {
            await _api.NewCustomerAsync(owner, $"{prefix} {i}");
        }
        var staff = await PrincipalAsync(CmpFactory.StaffEmail);
        var first = (await AsAsync(staff, (db, access) => PlatformOperations.ListOrganizationsAsync(db, access, prefix.ToUpperInvariant(), 1, 2, default))).Value!;
        Assert.Equal(3, first.Total);
        Assert.Equal(2, first.LastPage);
        Assert.Equal([$"{prefix} 0", $"{prefix} 1"], first.Items.Select(o => o.Name));
        Assert.All(first.Items, o => Assert.Equal(1, o.Members));
        Assert.All(first.Items, o => Assert.Null(o.ProviderState));
        var second = (await AsAsync(staff, (db, access) => PlatformOperations.ListOrganizationsAsync(db, access, prefix, 2, 2, default))).Value!;
        Assert.Equal($"{prefix} 2", Assert.Single(second.Items).Name);
    }
}
