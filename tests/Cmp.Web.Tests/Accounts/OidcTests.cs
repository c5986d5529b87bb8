using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Cmp.Web.Tests.Peers;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Accounts;

/// <summary>CMP wired to the OpenIddict provider on loopback.</summary>
public class OidcFactory : CmpFactory
{
    public OidcServer Provider { get; private set; } = null!;

    protected virtual bool BlockUninvited => false;

    public override async Task InitializeAsync()
    {
        Provider = await OidcServer.StartAsync(["http://localhost/api-auth/oidc/callback/"]);
        await base.InitializeAsync();
    }

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Oidc:Authority"] = Provider.Authority,
        ["Oidc:ClientId"] = OidcServer.ClientId,
        ["Oidc:ClientSecret"] = OidcServer.ClientSecret,
        ["Oidc:RequireHttpsMetadata"] = "false",
        ["OIDC_BLOCK_CREATION_OF_UNINVITED_USERS"] = BlockUninvited ? "true" : "false",
    };

    public override async Task DisposeAsyncCore()
    {
        await base.DisposeAsyncCore();
        await Provider.DisposeAsync();
    }

    /// <summary>
    /// Walks the browser's part of the code flow: CMP's login redirect, the provider's authorization
    /// endpoint, CMP's callback (which redeems the code over the back channel), then the completion
    /// endpoint that answers CMP's own token.
    /// </summary>
    public async Task<HttpResponseMessage> SignInAsync(OidcUser user)
    {
        Provider.NextUser = user;
        var browser = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var login = await browser.GetAsync("/api-auth/oidc/login/");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var authorize = login.Headers.Location!;
        Assert.StartsWith(Provider.Authority, authorize.ToString());
        Assert.Contains("code_challenge=", authorize.Query);
        Assert.Contains("code_challenge_method=S256", authorize.Query);

        using var toProvider = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var authorized = await toProvider.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Found, authorized.StatusCode);
        var callback = authorized.Headers.Location!;
        Assert.Equal("/api-auth/oidc/callback/", callback.AbsolutePath);

        var signedIn = await browser.GetAsync(callback.PathAndQuery);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        return await browser.GetAsync(signedIn.Headers.Location!.ToString());
    }
}

public sealed class OidcTests(OidcFactory factory) : IClassFixture<OidcFactory>
{
    private readonly Api _api = new(factory);

    [Fact]
    public async Task CodeFlowWithPkce_CreatesVerifiedUser_AndGivesAWorkingToken_ThenFindsItBySubject()
    {
        var email = $"oidc-{Guid.NewGuid():N}@example.com";
        var sub = Guid.NewGuid().ToString();
        var answer = await Json.ReadAsync(await factory.SignInAsync(new OidcUser(sub, email, true, "Olga Idc")), HttpStatusCode.OK);
        var token = answer["token"]!.GetValue<string>();
        var me = await Json.ReadAsync(await _api.As(token).GetAsync("/api/users/me/"), HttpStatusCode.OK);
        Assert.Equal(email, me["email"]!.GetValue<string>());
        Assert.Equal("Olga Idc", me["full_name"]!.GetValue<string>());
        Assert.True(me["email_verified"]!.GetValue<bool>());

        // Same subject, changed email at the provider: still the same CMP user.
        var again = await Json.ReadAsync(await factory.SignInAsync(new OidcUser(sub, "changed-" + email, true, "Olga")), HttpStatusCode.OK);
        Assert.Equal(me["uuid"]!.GetValue<string>(), again["user_uuid"]!.GetValue<string>());
        Assert.Equal(1, await factory.WithDbAsync(db => db.ExternalLogins.CountAsync(l => l.Subject == sub)));
    }

    [Fact]
    public async Task VerifiedEmail_LinksToTheExistingLocalAccount()
    {
        var local = await _api.NewUserAsync();
        var answer = await Json.ReadAsync(await factory.SignInAsync(new OidcUser(Guid.NewGuid().ToString(), local.Email, true, "Local")), HttpStatusCode.OK);
        Assert.Equal(local.Uuid, answer["user_uuid"]!.GetValue<string>());
        // The local password still works too.
        Assert.NotEmpty(await _api.LoginAsync(local.Email, Api.Password));
    }

    [Fact]
    public async Task UnverifiedEmail_IsRefused_AndCreatesNothing()
    {
        var email = $"unverified-{Guid.NewGuid():N}@example.com";
        await Json.ProblemAsync(await factory.SignInAsync(new OidcUser(Guid.NewGuid().ToString(), email, false, "U")),
            HttpStatusCode.Forbidden, ProblemTypes.OidcEmailNotVerified);
        Assert.False(await factory.WithDbAsync(db => db.Users.AnyAsync(u => u.Email == email)));
    }

    [Fact]
    public async Task Complete_WithoutASignInInProgress_Is401()
    {
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api-auth/oidc/complete/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        var config = await Json.ReadAsync(await _api.Anonymous().GetAsync("/api/configuration/"), HttpStatusCode.OK);
        Assert.True(config["OIDC_ENABLED"]!.GetValue<bool>());
    }
}

public sealed class BlockingOidcFactory : OidcFactory
{
    protected override bool BlockUninvited => true;
}

public sealed class OidcInvitationOnlyTests(BlockingOidcFactory factory) : IClassFixture<BlockingOidcFactory>
{
    [Fact]
    public async Task BlockUninvited_RefusesStrangers_AdmitsInvitees()
    {
        var api = new Api(factory);
        var stranger = $"stranger-{Guid.NewGuid():N}@example.com";
        var problem = await Json.ProblemAsync(await factory.SignInAsync(new OidcUser(Guid.NewGuid().ToString(), stranger, true, "S")),
            HttpStatusCode.Forbidden, ProblemTypes.OidcUninvited);
        Assert.Contains(stranger, problem["detail"]!.GetValue<string>());
        Assert.False(await factory.WithDbAsync(db => db.Users.AnyAsync(u => u.Email == stranger)));

        var owner = await api.NewUserAsync();
        var customer = await api.NewCustomerAsync(owner);
        var invitee = $"invitee-{Guid.NewGuid():N}@example.com";
        var invitation = (await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/user-invitations/", new { customer, email = invitee, role = "support" }), HttpStatusCode.Created))["uuid"]!.GetValue<string>();
        var answer = await Json.ReadAsync(await factory.SignInAsync(new OidcUser(Guid.NewGuid().ToString(), invitee, true, "I")), HttpStatusCode.OK);
        var client = api.As(answer["token"]!.GetValue<string>());
        await Json.ReadAsync(await client.PostAsync($"/api/user-invitations/{invitation}/accept/", null), HttpStatusCode.OK);
        await Json.ReadAsync(await client.GetAsync($"/api/customers/{customer}/"), HttpStatusCode.OK);
    }
}

public sealed class OidcDisabledTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    [Fact]
    public async Task Login_WithoutProvider_Is404Problem()
    {
        var api = new Api(factory);
        await Json.ProblemAsync(await api.Anonymous().GetAsync("/api-auth/oidc/login/"), HttpStatusCode.NotFound, ProblemTypes.OidcDisabled);
    }
}
