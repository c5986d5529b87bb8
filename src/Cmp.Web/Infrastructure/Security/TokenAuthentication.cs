using System.Security.Claims;
using System.Text.Encodings.Web;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cmp.Web.Infrastructure.Security;

/// <summary>
/// <c>Authorization: Token &lt;t&gt;</c> or <c>Authorization: Bearer &lt;t&gt;</c> with an opaque token from
/// <c>POST /api-auth/password/</c>. The token is looked up by its hash; a revoked or expired token,
/// or one whose user is inactive, authenticates nobody.
/// </summary>
internal sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    CmpDbContext db) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Token";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        var space = header.IndexOf(' ');
        if (space <= 0)
        {
            return AuthenticateResult.NoResult();
        }
        var scheme = header[..space];
        if (!scheme.Equals("Token", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var token = header[(space + 1)..].Trim();
        if (token.StartsWith("ar_", StringComparison.Ordinal) || token.StartsWith("wst_", StringComparison.Ordinal))
        {
            return AuthenticateResult.NoResult(); // agent keys and widget sessions belong to the gateway
        }
        if (token.Length is 0 or > 200)
        {
            return AuthenticateResult.Fail("Malformed token.");
        }
        var hash = SecretTokens.Hash(token);
        var now = DateTime.UtcNow;
        var found = await db.AuthTokens.AsNoTracking()
            .Where(t => t.TokenHash == hash && t.RevokedAt == null && t.ExpiresAt > now)
            .Select(t => new { t.Id, t.UserId, t.User.IsStaff, t.User.IsActive, t.User.Email })
            .FirstOrDefaultAsync(Context.RequestAborted);
        if (found is null || !found.IsActive)
        {
            return AuthenticateResult.Fail("Invalid, expired or revoked token.");
        }
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, found.UserId.ToString()),
                new Claim(ClaimTypes.Email, found.Email),
                new Claim(CmpClaims.TokenIdClaim, found.Id.ToString()),
                new Claim(CmpClaims.IsStaffClaim, found.IsStaff ? "true" : "false"),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}

public static class CmpClaims
{
    public const string TokenIdClaim = "cmp:token_id";
    public const string IsStaffClaim = "cmp:is_staff";

    public static Guid UserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), out var id) ? id : Guid.Empty;

    public static bool IsStaff(this ClaimsPrincipal user) => user.FindFirstValue(IsStaffClaim) == "true";

    public static Guid? TokenId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(TokenIdClaim), out var id) ? id : null;
}
