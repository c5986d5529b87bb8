using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Accounts;

public sealed class AccountsTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    private static string NewEmail() => $"a-{Guid.NewGuid():N}@example.com";

    [Fact]
    public async Task SignUp_ValidBody_CreatesUnverifiedUserAndMailsAVerificationLink()
    {
        var email = NewEmail();
        var user = await Json.ReadAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email = email.ToUpperInvariant(), password = Api.Password, full_name = "Ada" }),
            HttpStatusCode.Created);
        Assert.Equal(email, user["email"]!.GetValue<string>());
        Assert.False(user["email_verified"]!.GetValue<bool>());
        Assert.Matches("^[0-9a-f]{32}$", user["uuid"]!.GetValue<string>());
        Assert.Null(user["password_hash"]);

        var mail = await _api.LatestEmailAsync(email);
        Assert.Contains("/verify-email?token=", mail["body"]!.GetValue<string>());
        // The password is hashed with Identity's hasher, never stored in clear.
        var hash = await factory.WithDbAsync(db => db.Users.Where(u => u.Email == email).Select(u => u.PasswordHash).SingleAsync());
        Assert.DoesNotContain(Api.Password, hash);
        Assert.StartsWith("AQAAAA", hash);
    }

    [Theory]
    [InlineData("short-1", "at least 10")]
    [InlineData("password123", "too common")]
    [InlineData("QWERTYUIOP", "too common")]
    [InlineData("aaaaaaaaaaaa", "repeats")]
    [InlineData("abcdefghijkl", "sequence")]
    public async Task SignUp_WeakPassword_Is400AndCreatesNothing(string password, string reason)
    {
        var email = NewEmail();
        var problem = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password, full_name = "Weak" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains(reason, problem["errors"]!["password"]![0]!.GetValue<string>());
        Assert.False(await factory.WithDbAsync(db => db.Users.AnyAsync(u => u.Email == email)));
    }

    [Fact]
    public async Task SignUp_PasswordContainingEmail_Is400()
    {
        var email = $"margarethamilton-{Guid.NewGuid():N}"[..24] + "@example.com";
        var local = email.Split('@')[0];
        var problem = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = local + "-2024!", full_name = "M" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("email", problem["errors"]!["password"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task SignUp_BadFields_AreEach400WithPerFieldErrors()
    {
        var problem = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email = "not-an-email", password = Api.Password, full_name = new string('x', 151) }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(problem["errors"]!["email"]);
        Assert.NotNull(problem["errors"]!["full_name"]);

        problem = await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(problem["errors"]!["email"]);
        Assert.NotNull(problem["errors"]!["password"]);
        Assert.NotNull(problem["errors"]!["full_name"]);
    }

    [Fact]
    public async Task SignUp_MalformedJson_Is400AndCreatesNothing()
    {
        var before = await factory.WithDbAsync(db => db.Users.CountAsync());
        var problem = await Json.ProblemAsync(
            await _api.Anonymous().PostAsync("/api/auth/signup/", Json.Raw("{\"email\": \"x@example.com\", ")),
            HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        Assert.Contains("JSON", problem["detail"]!.GetValue<string>());
        Assert.Equal(before, await factory.WithDbAsync(db => db.Users.CountAsync()));
    }

    [Fact]
    public async Task SignUp_ExistingEmail_Is400OnEmail()
    {
        var user = await _api.NewUserAsync();
        var problem = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email = user.Email, password = Api.Password, full_name = "Again" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("already exists", problem["errors"]!["email"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task SignIn_BeforeVerification_Is403_ThenVerifyOnce_ThenSignInWorks()
    {
        var email = NewEmail();
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "V" }), HttpStatusCode.Created);

        await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = email, password = Api.Password }),
            HttpStatusCode.Forbidden, ProblemTypes.EmailNotVerified);

        var token = await _api.VerificationTokenAsync(email);
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token }), HttpStatusCode.OK);
        // Single use.
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token }), HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);

        var login = await Json.ReadAsync(
            await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = email, password = Api.Password }), HttpStatusCode.OK);
        Assert.True(login["token"]!.GetValue<string>().Length >= 40);
    }

    [Fact]
    public async Task VerifyEmail_ExpiredOrUnknownToken_Is400AndLeavesUserUnverified()
    {
        var email = NewEmail();
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "E" }), HttpStatusCode.Created);
        var token = await _api.VerificationTokenAsync(email);
        await factory.WithDbAsync(db => db.OneTimeTokens.Where(t => t.User.Email == email)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTime.UtcNow.AddSeconds(-1))));

        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token }), HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token = "nope" }), HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.False(await factory.WithDbAsync(db => db.Users.Where(u => u.Email == email).Select(u => u.EmailVerified).SingleAsync()));

        // A new link can be asked for, and it works.
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/resend-verification/", new { email }), HttpStatusCode.Accepted);
        var fresh = await _api.VerificationTokenAsync(email);
        Assert.NotEqual(token, fresh);
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token = fresh }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task SignIn_WrongPassword_Is401_AndUnknownUserLooksTheSame()
    {
        var user = await _api.NewUserAsync();
        var wrong = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = user.Email, password = "Wrong-password-123" }),
            HttpStatusCode.Unauthorized, ProblemTypes.InvalidCredentials);
        var unknown = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = NewEmail(), password = "Wrong-password-123" }),
            HttpStatusCode.Unauthorized, ProblemTypes.InvalidCredentials);
        Assert.Equal(wrong["detail"]!.GetValue<string>(), unknown["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task SignIn_FiveFailures_LockTheAccount_EvenForTheRightPassword()
    {
        var user = await _api.NewUserAsync();
        for (var i = 0; i < 5; i++)
        {
            await Json.ProblemAsync(
                await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = user.Email, password = $"Wrong-password-{i}00" }),
                HttpStatusCode.Unauthorized, ProblemTypes.InvalidCredentials);
        }
        var response = await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = user.Email, password = Api.Password });
        await Json.ProblemAsync(response, HttpStatusCode.TooManyRequests, ProblemTypes.AccountLocked);
        Assert.True(response.Headers.RetryAfter is not null);

        // When the lock has passed, the right password works again.
        await factory.WithDbAsync(db => db.Users.Where(u => u.Email == user.Email).ExecuteUpdateAsync(s => s.SetProperty(u => u.LockedUntil, DateTime.UtcNow.AddSeconds(-1))));
        Assert.NotEmpty(await _api.LoginAsync(user.Email, Api.Password));
    }

    [Fact]
    public async Task Token_WorksWithTokenAndBearerSchemes_AndLogoutRevokesIt()
    {
        var user = await _api.NewUserAsync();
        var me = await Json.ReadAsync(await _api.As(user.Token, "Token").GetAsync("/api/users/me/"), HttpStatusCode.OK);
        Assert.Equal(user.Email, me["email"]!.GetValue<string>());
        Assert.False(me["is_staff"]!.GetValue<bool>());
        Assert.NotNull(me["customer_permissions"]);
        await Json.ReadAsync(await _api.As(user.Token, "Bearer").GetAsync("/api/users/me/"), HttpStatusCode.OK);

        // Only the hash is stored.
        Assert.False(await factory.WithDbAsync(db => db.AuthTokens.AnyAsync(t => t.TokenHash == user.Token)));

        Assert.Equal(HttpStatusCode.NoContent, (await _api.As(user.Token).PostAsync("/api-auth/logout/", null)).StatusCode);
        await Json.ProblemAsync(await _api.As(user.Token).GetAsync("/api/users/me/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
    }

    [Fact]
    public async Task Token_Expired_Or_Garbage_Is401()
    {
        var user = await _api.NewUserAsync();
        await factory.WithDbAsync(db => db.AuthTokens.Where(t => t.User.Email == user.Email)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTime.UtcNow.AddSeconds(-1))));
        await Json.ProblemAsync(await _api.As(user.Token).GetAsync("/api/users/me/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await Json.ProblemAsync(await _api.As("garbage").GetAsync("/api/users/me/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api/users/me/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
    }

    [Fact]
    public async Task Users_NonStaffSeeOnlyThemselves_StaffSeeAll()
    {
        var a = await _api.NewUserAsync();
        var b = await _api.NewUserAsync();
        var mine = await Json.ReadArrayAsync(await a.Client.GetAsync("/api/users/"));
        Assert.Single(mine);
        await Json.ProblemAsync(await a.Client.GetAsync($"/api/users/{b.Uuid}/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ReadAsync(await a.Client.GetAsync($"/api/users/{a.Uuid}/"), HttpStatusCode.OK);
        var staff = await _api.StaffAsync();
        await Json.ReadAsync(await staff.GetAsync($"/api/users/{b.Uuid}/"), HttpStatusCode.OK);
        var all = await Json.ReadArrayAsync(await staff.GetAsync($"/api/users/?search={Uri.EscapeDataString(b.Email)}"));
        Assert.Single(all);
    }
}

/// <summary>With <c>EMAIL_VERIFICATION_REQUIRED=false</c> a new account signs in at once and no mail is sent.</summary>
public sealed class NoVerificationFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["EMAIL_VERIFICATION_REQUIRED"] = "false" };
}

public sealed class AccountsWithoutVerificationTests(NoVerificationFactory factory) : IClassFixture<NoVerificationFactory>
{
    [Fact]
    public async Task SignUp_VerificationOff_SignsInAtOnce()
    {
        var api = new Api(factory);
        var email = $"n-{Guid.NewGuid():N}@example.com";
        var user = await Json.ReadAsync(
            await api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Api.Password, full_name = "N" }), HttpStatusCode.Created);
        Assert.True(user["email_verified"]!.GetValue<bool>());
        Assert.NotEmpty(await api.LoginAsync(email, Api.Password));
        var mails = await (await api.StaffAsync()).GetFromJsonAsync<JsonArray>($"/api/admin/emails/?to={email}");
        Assert.Empty(mails!);
    }
}

/// <summary>A tight limit on the public auth endpoints.</summary>
public sealed class TightRateLimitFactory : CmpFactory
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["RateLimits:AuthPerMinute"] = "3" };
}

public sealed class AuthRateLimitTests(TightRateLimitFactory factory) : IClassFixture<TightRateLimitFactory>
{
    [Fact]
    public async Task PasswordSignIn_OverTheLimit_Is429WithRetryAfter()
    {
        var api = new Api(factory);
        for (var i = 0; i < 3; i++)
        {
            await Json.ProblemAsync(
                await api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = "nobody@example.com", password = "Whatever-123456" }),
                HttpStatusCode.Unauthorized, ProblemTypes.InvalidCredentials);
        }
        var limited = await api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = "nobody@example.com", password = "Whatever-123456" });
        await Json.ProblemAsync(limited, HttpStatusCode.TooManyRequests, ProblemTypes.RateLimited);
        Assert.NotNull(limited.Headers.RetryAfter);
        // Authenticated, non-public endpoints are not limited by this policy.
        await Json.ProblemAsync(await api.Anonymous().GetAsync("/api/customers/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
    }
}
