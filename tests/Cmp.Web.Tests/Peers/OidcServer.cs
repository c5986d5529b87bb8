using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Cmp.Web.Tests.Peers;

/// <summary>
/// A real OpenID Connect provider on loopback, built with OpenIddict (authorization code flow,
/// PKCE required, signed id tokens, userinfo). The person who "signs in" at its authorization
/// endpoint is whoever the test puts in <see cref="NextUser"/>: there is no login page to click.
/// </summary>
public sealed class OidcServer : IAsyncDisposable
{
    public const string ClientId = "cmp-web";
    public const string ClientSecret = "cmp-web-secret-for-tests";

    private readonly WebApplication _app;
    private readonly SqliteConnection _store;

    public string Authority { get; }

    public OidcUser NextUser { get; set; } = new("subject-1", "someone@example.com", true, "Someone");

    private OidcServer(WebApplication app, SqliteConnection store, string authority)
    {
        _app = app;
        _store = store;
        Authority = authority;
    }

    public static async Task<OidcServer> StartAsync(IEnumerable<string> redirectUris)
    {
        var port = FreePort();
        var authority = $"http://127.0.0.1:{port}/";
        var store = new SqliteConnection("Data Source=:memory:");
        await store.OpenAsync();

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddDbContext<OidcStore>(o => o.UseSqlite(store).UseOpenIddict());
        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<OidcStore>())
            .AddServer(o =>
            {
                o.SetIssuer(new Uri(authority));
                o.SetAuthorizationEndpointUris("connect/authorize")
                    .SetTokenEndpointUris("connect/token")
                    .SetUserInfoEndpointUris("connect/userinfo");
                o.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                o.RegisterScopes(Scopes.OpenId, Scopes.Email, Scopes.Profile);
                o.AddEphemeralEncryptionKey().AddEphemeralSigningKey().DisableAccessTokenEncryption();
                o.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .DisableTransportSecurityRequirement();
            });
        var app = builder.Build();
        var server = new OidcServer(app, store, authority);

        app.MapMethods("/connect/authorize", ["GET", "POST"], (HttpContext ctx) =>
        {
            var request = ctx.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
            var user = server.NextUser;
            var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, user.Subject)
                .SetClaim(Claims.Email, user.Email)
                .SetClaim(Claims.EmailVerified, user.EmailVerified)
                .SetClaim(Claims.Name, user.Name);
            identity.SetScopes(request.GetScopes());
            identity.SetDestinations(_ => [Destinations.AccessToken, Destinations.IdentityToken]);
            return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        });
        app.MapMethods("/connect/userinfo", ["GET", "POST"], async (HttpContext ctx) =>
        {
            var result = await ctx.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            var principal = result.Principal!;
            return Results.Json(new Dictionary<string, object?>
            {
                [Claims.Subject] = principal.GetClaim(Claims.Subject),
                [Claims.Email] = principal.GetClaim(Claims.Email),
                [Claims.EmailVerified] = principal.GetClaim(Claims.EmailVerified) == "true",
                [Claims.Name] = principal.GetClaim(Claims.Name),
            });
        });

        await using (var scope = app.Services.CreateAsyncScope())
        {
            // The provider's own throwaway store (in-memory SQLite), not CMP's database.
            await scope.ServiceProvider.GetRequiredService<OidcStore>().Database.EnsureCreatedAsync();
            var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
            var client = new OpenIddictApplicationDescriptor
            {
                ClientId = ClientId,
                ClientSecret = ClientSecret,
                ClientType = ClientTypes.Confidential,
                Permissions =
                {
                    Permissions.Endpoints.Authorization, Permissions.Endpoints.Token,
                    Permissions.GrantTypes.AuthorizationCode, Permissions.ResponseTypes.Code,
                    Permissions.Scopes.Email, Permissions.Scopes.Profile,
                },
                Requirements = { Requirements.Features.ProofKeyForCodeExchange },
            };
            foreach (var uri in redirectUris)
            {
                client.RedirectUris.Add(new Uri(uri));
            }
            await manager.CreateAsync(client);
        }
        await app.StartAsync();
        return server;
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _store.DisposeAsync();
    }
}

public sealed record OidcUser(string Subject, string Email, bool EmailVerified, string Name);

/// <summary>The provider's own tables (applications, authorizations, tokens).</summary>
public sealed class OidcStore(DbContextOptions<OidcStore> options) : DbContext(options);
