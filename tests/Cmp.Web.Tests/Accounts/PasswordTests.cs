using System.Net;
using System.Net.Http.Json;
using Cmp.Web.Features.Accounts;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Accounts;

public sealed class PasswordTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private const string NewPassword = "Purple-Otter-Quartz-88";
    private readonly Api _api = new(factory);

    private Task<int> MailCountAsync(string to) => factory.WithDbAsync(db => db.Emails.CountAsync(e => e.To == to));

    private async Task<string> RequestResetAsync(string email)
    {
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/", new { email }), HttpStatusCode.Accepted);
        var mail = await _api.LatestEmailAsync(email);
        Assert.Contains("/password-reset?token=", mail["body"]!.GetValue<string>());
        return await _api.VerificationTokenAsync(email);
    }

    [Fact]
    public async Task PasswordReset_UnknownOrDeactivatedEmail_Is202LikeAnyOtherAndMailsNothing()
    {
        var unknown = $"nobody-{Guid.NewGuid():N}@example.com";
        var known = await _api.NewUserAsync();
        await factory.WithDbAsync(db => db.Users.Where(u => u.Email == known.Email).ExecuteUpdateAsync(s => s.SetProperty(u => u.IsActive, false)));
        var mailsBefore = await MailCountAsync(known.Email);

        var forUnknown = await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/", new { email = unknown }), HttpStatusCode.Accepted);
        var forInactive = await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/", new { email = known.Email }), HttpStatusCode.Accepted);

        Assert.Equal(forUnknown.ToJsonString(), forInactive.ToJsonString());
        Assert.Equal(0, await MailCountAsync(unknown));
        Assert.Equal(mailsBefore, await MailCountAsync(known.Email));
    }

    [Fact]
    public async Task PasswordReset_MissingOrMalformedEmail_Is400OnEmail()
    {
        var problem = await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/", new { email = "not-an-email" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.NotNull(problem["errors"]!["email"]);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/", new { }), HttpStatusCode.BadRequest, ProblemTypes.Validation);
    }

    [Fact]
    public async Task PasswordResetConfirm_ValidToken_SetsPassword_RevokesApiTokens_AndTheLinkWorksOnce()
    {
        var user = await _api.NewUserAsync();
        var token = await RequestResetAsync(user.Email);
        var expires = await factory.WithDbAsync(db => db.OneTimeTokens
            .Where(t => t.User.Email == user.Email && t.Purpose == OneTimeTokenPurpose.PasswordReset).Select(t => t.ExpiresAt).SingleAsync());
        Assert.InRange(expires - DateTime.UtcNow, TimeSpan.FromMinutes(55), TimeSpan.FromMinutes(61));

        var done = await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = NewPassword }), HttpStatusCode.OK);
        Assert.Contains("password", done["detail"]!.GetValue<string>());

        // The session token issued before the reset no longer works; the new password does, the old one does not.
        await Json.ProblemAsync(await user.Client.GetAsync("/api/users/me/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await _api.LoginAsync(user.Email, NewPassword);
        await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = user.Email, password = Api.Password }),
            HttpStatusCode.Unauthorized, ProblemTypes.InvalidCredentials);

        var again = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = "Another-Fine-Password-9" }),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);
        Assert.Contains("already used", again["detail"]!.GetValue<string>());
        await _api.LoginAsync(user.Email, NewPassword);
    }

    [Fact]
    public async Task PasswordResetConfirm_WeakPassword_Is400OnPassword_AndKeepsTheLinkUsable()
    {
        var user = await _api.NewUserAsync();
        var token = await RequestResetAsync(user.Email);

        var problem = await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = "password123" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("too common", problem["errors"]!["password"]![0]!.GetValue<string>());
        // Nothing changed: the old password and session still work, and the same link takes a good password.
        await Json.ReadAsync(await user.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK);
        await _api.LoginAsync(user.Email, Api.Password);
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = NewPassword }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task PasswordResetConfirm_ExpiredUnknownOrVerificationToken_Is400InvalidToken_AndChangesNothing()
    {
        var user = await _api.NewUserAsync();
        var token = await RequestResetAsync(user.Email);
        await factory.WithDbAsync(db => db.OneTimeTokens.Where(t => t.User.Email == user.Email && t.Purpose == OneTimeTokenPurpose.PasswordReset)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTime.UtcNow.AddSeconds(-1))));

        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = NewPassword }),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token = "no-such-token", password = NewPassword }),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { password = NewPassword }),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);

        // A token mailed for another purpose does not reset a password.
        var other = $"v-{Guid.NewGuid():N}@example.com";
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email = other, password = Api.Password, full_name = "V" }), HttpStatusCode.Created);
        var verification = await _api.VerificationTokenAsync(other);
        await Json.ProblemAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token = verification, password = NewPassword }),
            HttpStatusCode.BadRequest, ProblemTypes.InvalidToken);

        await _api.LoginAsync(user.Email, Api.Password);
        await Json.ReadAsync(await user.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task PasswordResetConfirm_TwoRacingRequests_ExactlyOneWins()
    {
        var user = await _api.NewUserAsync();
        var token = await RequestResetAsync(user.Email);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
            _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = $"{NewPassword}-{i}" })));

        Assert.Equal(1, attempts.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.All(attempts.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode));
    }

    [Fact]
    public async Task PasswordResetConfirm_LockedAccount_ClearsTheLockout()
    {
        var user = await _api.NewUserAsync();
        await factory.WithDbAsync(db => db.Users.Where(u => u.Email == user.Email)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.LockedUntil, DateTime.UtcNow.AddMinutes(15)).SetProperty(u => u.FailedSignInCount, 3)));
        await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = user.Email, password = Api.Password }),
            HttpStatusCode.TooManyRequests, ProblemTypes.AccountLocked);

        var token = await RequestResetAsync(user.Email);
        await Json.ReadAsync(await _api.Anonymous().PostAsJsonAsync("/api/auth/password-reset/confirm/", new { token, password = NewPassword }), HttpStatusCode.OK);

        await _api.LoginAsync(user.Email, NewPassword);
        Assert.Equal(0, await factory.WithDbAsync(db => db.Users.Where(u => u.Email == user.Email).Select(u => u.FailedSignInCount).SingleAsync()));
    }

    [Fact]
    public async Task ChangePassword_RightCurrent_Is204_KeepsThisTokenAndRevokesTheOthers()
    {
        var user = await _api.NewUserAsync();
        var otherSession = _api.As(await _api.LoginAsync(user.Email, Api.Password));

        var response = await user.Client.PostAsJsonAsync("/api/users/me/password/", new { current_password = Api.Password, new_password = NewPassword });
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        await Json.ReadAsync(await user.Client.GetAsync("/api/users/me/"), HttpStatusCode.OK);
        await Json.ProblemAsync(await otherSession.GetAsync("/api/users/me/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        await _api.LoginAsync(user.Email, NewPassword);
    }

    [Fact]
    public async Task ChangePassword_WrongCurrent_Is400OnCurrentPassword_AndChangesNothing()
    {
        var user = await _api.NewUserAsync();
        var problem = await Json.ProblemAsync(
            await user.Client.PostAsJsonAsync("/api/users/me/password/", new { current_password = "Not-My-Password-1", new_password = NewPassword }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("not correct", problem["errors"]!["current_password"]![0]!.GetValue<string>());
        Assert.Null(problem["errors"]!["new_password"]);
        await _api.LoginAsync(user.Email, Api.Password);
    }

    [Fact]
    public async Task ChangePassword_WeakNewPassword_Is400OnNewPassword_AndChangesNothing()
    {
        var user = await _api.NewUserAsync();
        var problem = await Json.ProblemAsync(
            await user.Client.PostAsJsonAsync("/api/users/me/password/", new { current_password = Api.Password, new_password = "short" }),
            HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.Contains("at least", problem["errors"]!["new_password"]![0]!.GetValue<string>());
        Assert.Null(problem["errors"]!["current_password"]);
        await _api.LoginAsync(user.Email, Api.Password);
    }

    [Fact]
    public async Task ChangePassword_Anonymous_Is401()
    {
        await Json.ProblemAsync(
            await _api.Anonymous().PostAsJsonAsync("/api/users/me/password/", new { current_password = Api.Password, new_password = NewPassword }),
            HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
    }
}
