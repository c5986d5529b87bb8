using Bunit;
using Bunit.Rendering;
using Cmp.Web.Components;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace Cmp.Web.Tests.Infrastructure;

/// <summary>
/// Console pages rendered with bUnit over the real application's database: the MudBlazor providers the console
/// layout has, and a signed-in user's <see cref="Workspace"/> cascaded, as <c>ConsoleLayout</c> gives them.
/// </summary>
public sealed class ConsolePageHost : IAsyncDisposable
{
    private readonly CmpFactory _factory;

    public ConsolePageHost(CmpFactory factory)
    {
        _factory = factory;
        Bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        Bunit.Services.AddMudServices();
        Bunit.Services.AddLogging();
        Bunit.Services.AddSingleton(factory.Services.GetRequiredService<IDbContextFactory<CmpDbContext>>());
        Bunit.Services.AddSingleton(factory.Services.GetRequiredService<IConfiguration>());
        Bunit.Services.AddSingleton(factory.Services.GetRequiredService<Cmp.Web.Infrastructure.Http.PublicAddress>());
    }

    public BunitContext Bunit { get; } = new();

    public ValueTask DisposeAsync() => Bunit.DisposeAsync();

    /// <summary>The user's workspace with the given organization chosen in the switcher.</summary>
    public async Task<Workspace> WorkspaceAsync(string email, string? organization)
    {
        await using var db = _factory.Services.GetRequiredService<IDbContextFactory<CmpDbContext>>().CreateDbContext();
        var user = await db.Users.AsNoTracking().SingleAsync(u => u.Email == email);
        return await Workspace.LoadAsync(db, CookieSignIn.Principal(user), organization, CancellationToken.None);
    }

    /// <summary>Renders the page alone (what an earlier call rendered goes first); the host holds the dialogs too.</summary>
    public async Task<IRenderedComponent<ContainerFragment>> RenderAsync<TPage>(Workspace workspace, params (string Name, object? Value)[] parameters)
        where TPage : IComponent
    {
        await Bunit.DisposeComponentsAsync();
        RenderFragment page = b =>
        {
            b.OpenComponent<TPage>(0);
            foreach (var (name, value) in parameters)
            {
                b.AddAttribute(1, name, value);
            }
            b.CloseComponent();
        };
        return Bunit.Render(b =>
        {
            b.OpenComponent<MudPopoverProvider>(0);
            b.CloseComponent();
            b.OpenComponent<MudDialogProvider>(1);
            b.CloseComponent();
            b.OpenComponent<MudSnackbarProvider>(2);
            b.CloseComponent();
            b.OpenComponent<CascadingValue<Workspace>>(3);
            b.AddAttribute(4, "Value", workspace);
            b.AddAttribute(5, "ChildContent", page);
            b.CloseComponent();
        });
    }

    public async Task<IRenderedComponent<TPage>> RenderPageAsync<TPage>(Workspace workspace, params (string Name, object? Value)[] parameters)
        where TPage : IComponent =>
        (await RenderAsync<TPage>(workspace, parameters)).FindComponent<TPage>();
}
