using System.Globalization;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Accounts;

public sealed record SignUpRequest(string? Email, string? Password, string? FullName);
public sealed record VerifyEmailRequest(string? Token);
public sealed record ResendVerificationRequest(string? Email);
public sealed record PasswordSignInRequest(string? Username, string? Password);
public sealed record TokenResponse(string Token, DateTime ExpiresAt, string UserUuid);
public sealed record DetailResponse(string Detail);

public sealed record UserDto(string Uuid, string Url, string Email, string FullName, bool IsStaff, bool IsActive, bool EmailVerified, DateTime Created);
public sealed record CustomerMembershipDto(string CustomerUuid, string CustomerName, CustomerRole Role);
public sealed record ProjectMembershipDto(string ProjectUuid, string ProjectName, string CustomerUuid, ProjectRole Role);
public sealed record MeDto(
    string Uuid, string Url, string Email, string FullName, bool IsStaff, bool IsActive, bool EmailVerified, DateTime Created,
    IReadOnlyList<CustomerMembershipDto> CustomerPermissions, IReadOnlyList<ProjectMembershipDto> ProjectPermissions);

public static class AccountEndpoints
{
    public static IServiceCollection AddAccounts(this IServiceCollection services)
    {
        services.AddScoped<AccountService>();
        services.AddScoped<AccountOperations>();
        services.AddScoped<IPasswordHasher<User>, PasswordHasher<User>>();
        return services;
    }

    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/auth").WithTags("Accounts").RequireRateLimiting(RateLimits.Auth);
        auth.MapPost("/signup/", SignUpAsync).WithName("SignUp");
        auth.MapPost("/verify-email/", VerifyEmailAsync).WithName("VerifyEmail");
        auth.MapPost("/resend-verification/", ResendVerificationAsync).WithName("ResendVerification");
        auth.MapPost("/password-reset/", PasswordResetAsync).WithName("PasswordReset");
        auth.MapPost("/password-reset/confirm/", PasswordResetConfirmAsync).WithName("PasswordResetConfirm");

        var apiAuth = app.MapGroup("/api-auth").WithTags("Accounts");
        apiAuth.MapPost("/password/", PasswordSignInAsync).WithName("PasswordSignIn").RequireRateLimiting(RateLimits.Auth);
        apiAuth.MapPost("/logout/", LogoutAsync).WithName("Logout").RequireAuthorization();

        var users = app.MapGroup("/api/users").WithTags("Users").RequireAuthorization();
        users.MapGet("/me/", MeAsync).WithName("GetCurrentUser");
        users.MapPost("/me/password/", ChangePasswordAsync).WithName("ChangePassword").RequireRateLimiting(RateLimits.Auth);
        users.MapGet("/", ListAsync).WithName("ListUsers");
        users.MapGet("/{uuid}/", GetAsync).WithName("GetUser");
        return app;
    }

    internal static UserDto ToDto(User u, HttpContext ctx) =>
        new(u.Id.Hex(), Refs.Url(ctx, "users", u.Id), u.Email, u.FullName, u.IsStaff, u.IsActive, u.EmailVerified, u.CreatedAt);

    private static async Task<Results<Created<UserDto>, ProblemHttpResult>> SignUpAsync(
        SignUpRequest body, AccountOperations operations, HttpContext ctx, CancellationToken ct)
    {
        var outcome = await operations.SignUpAsync(body, operations.Accounts.PublicBaseUrl(ctx), ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = ToDto(outcome.Value!, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<DetailResponse>, ProblemHttpResult>> VerifyEmailAsync(
        VerifyEmailRequest body, AccountOperations operations, CancellationToken ct)
    {
        var outcome = await operations.VerifyEmailAsync(body.Token, ct);
        return outcome.Ok ? TypedResults.Ok(new DetailResponse("Your email address is verified; you can sign in.")) : outcome.ToProblemResult();
    }

    private static async Task<Results<Accepted<DetailResponse>, ProblemHttpResult>> PasswordResetAsync(
        PasswordResetRequest body, CmpDbContext db, EmailSender email, AccountService accounts, HttpContext ctx, CancellationToken ct)
    {
        var outcome = await PasswordOperations.RequestResetAsync(db, email, body, accounts.PublicBaseUrl(ctx), ct);
        return outcome.Ok ? TypedResults.Accepted((string?)null, new DetailResponse(PasswordOperations.ResetRequestedDetail)) : outcome.ToProblemResult();
    }

    private static async Task<Results<Ok<DetailResponse>, ProblemHttpResult>> PasswordResetConfirmAsync(
        PasswordResetConfirmRequest body, CmpDbContext db, IPasswordHasher<User> hasher, CancellationToken ct)
    {
        var outcome = await PasswordOperations.ConfirmResetAsync(db, hasher, body, ct);
        return outcome.Ok ? TypedResults.Ok(new DetailResponse("Your password is changed; sign in with the new one.")) : outcome.ToProblemResult();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ChangePasswordAsync(
        PasswordChangeRequest body, CmpDbContext db, IPasswordHasher<User> hasher, Access access, CancellationToken ct)
    {
        var outcome = await PasswordOperations.ChangeAsync(db, hasher, access.UserId, access.User.TokenId(), body, ct);
        return outcome.Ok ? TypedResults.NoContent() : outcome.ToProblemResult();
    }

    private static async Task<Results<Accepted<DetailResponse>, ProblemHttpResult>> ResendVerificationAsync(
        ResendVerificationRequest body, CmpDbContext db, AccountService accounts, HttpContext ctx, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var email = errors.Email("email", body.Email, required: true);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var user = await db.Users.FirstOrDefaultAsync(u => u.Email == email && !u.EmailVerified && u.IsActive, ct);
        if (user is not null)
        {
            await accounts.SendVerificationAsync(user, accounts.PublicBaseUrl(ctx), ct);
        }
        // Same answer whether or not the address is registered: no account enumeration.
        return TypedResults.Accepted((string?)null, new DetailResponse("If that address has an unverified account, a new verification email is on its way."));
    }

    private static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> PasswordSignInAsync(
        PasswordSignInRequest body, AccountOperations operations, HttpContext ctx, CancellationToken ct)
    {
        var outcome = await operations.CheckPasswordAsync(body.Username, body.Password, ct);
        if (!outcome.Ok)
        {
            if (outcome.Problem!.Extensions.TryGetValue(AccountOperations.RetryAfterExtension, out var seconds))
            {
                ctx.Response.Headers.RetryAfter = Convert.ToString(seconds, CultureInfo.InvariantCulture);
            }
            return outcome.ToProblemResult();
        }
        var (token, row) = await operations.Accounts.IssueTokenAsync(outcome.Value!, ct);
        return TypedResults.Ok(new TokenResponse(token, row.ExpiresAt, outcome.Value!.Id.Hex()));
    }

    private static async Task<NoContent> LogoutAsync(HttpContext ctx, CmpDbContext db, CancellationToken ct)
    {
        if (ctx.User.TokenId() is { } tokenId)
        {
            var now = DateTime.UtcNow;
            await db.AuthTokens.Where(t => t.Id == tokenId && t.RevokedAt == null).ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), ct);
        }
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<MeDto>, ProblemHttpResult>> MeAsync(HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var profile = await Profiles.LoadAsync(db, access.UserId, ct);
        if (profile is null)
        {
            return Problems.NotFound("user");
        }
        var user = profile.User;
        return TypedResults.Ok(new MeDto(
            user.Id.Hex(), Refs.Url(ctx, "users", user.Id), user.Email, user.FullName, user.IsStaff, user.IsActive, user.EmailVerified, user.CreatedAt,
            profile.Organizations.Select(c => new CustomerMembershipDto(c.CustomerId.Hex(), c.CustomerName, c.Role)).ToList(),
            profile.Projects.Select(p => new ProjectMembershipDto(p.ProjectId.Hex(), p.ProjectName, p.CustomerId.Hex(), p.Role)).ToList()));
    }

    private static readonly Ordering<User> UserOrdering = new Ordering<User>("email")
        .Field("email", u => u.Email).Field("full_name", u => u.FullName).Field("created", u => u.CreatedAt);

    private static async Task<Results<Ok<List<UserDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var me = access.UserId;
        var users = access.IsStaff ? db.Users.AsNoTracking() : db.Users.AsNoTracking().Where(u => u.Id == me);
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            users = users.Where(u => u.Email.Contains(t) || u.FullName.ToLower().Contains(t));
        }
        if (!UserOrdering.TryApply(users, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(u => ToDto(u, ctx)).ToList());
    }

    private static async Task<Results<Ok<UserDto>, ProblemHttpResult>> GetAsync(
        string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id) || (!access.IsStaff && id != access.UserId))
        {
            return Problems.NotFound("user");
        }
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, ct);
        return user is null ? Problems.NotFound("user") : TypedResults.Ok(ToDto(user, ctx));
    }
}
