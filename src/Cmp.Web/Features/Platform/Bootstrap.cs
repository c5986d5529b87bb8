using System.Security.Cryptography;
using Cmp.Web.Features.Accounts;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Platform;

/// <summary>
/// First-run set-up: the staff user from <c>CMP_ADMIN_EMAIL</c>/<c>CMP_ADMIN_PASSWORD</c> (a strong
/// password is generated and printed once when none is given), and demo data on an empty database.
/// </summary>
public static class Bootstrap
{
    public const string DefaultAdminEmail = "admin@cmp.local";

    public sealed record Result(string AdminEmail, string? GeneratedPassword, bool AdminCreated);

    public static async Task<Result> RunAsync(IServiceProvider services, IConfiguration configuration, CancellationToken ct = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        var hasher = scope.ServiceProvider.GetRequiredService<IPasswordHasher<User>>();

        var configuredEmail = configuration["CMP_ADMIN_EMAIL"];
        var email = string.IsNullOrWhiteSpace(configuredEmail) ? DefaultAdminEmail : configuredEmail.Trim().ToLowerInvariant();
        if (await db.Users.AnyAsync(u => u.Email == email, ct))
        {
            return new Result(email, null, false);
        }
        if (string.IsNullOrWhiteSpace(configuredEmail) && await db.Users.AnyAsync(u => u.IsStaff, ct))
        {
            // Someone already runs this platform; do not add a second default admin.
            var existing = await db.Users.Where(u => u.IsStaff).OrderBy(u => u.CreatedAt).Select(u => u.Email).FirstAsync(ct);
            return new Result(existing, null, false);
        }

        var password = configuration["CMP_ADMIN_PASSWORD"];
        string? generated = null;
        if (string.IsNullOrEmpty(password))
        {
            password = generated = GeneratePassword();
        }
        else if (PasswordPolicy.Check(password, email) is { Count: > 0 } problems)
        {
            throw new InvalidOperationException("CMP_ADMIN_PASSWORD is refused by the password policy: " + string.Join(" ", problems));
        }
        var admin = new User { Email = email, FullName = "Platform admin", IsStaff = true, EmailVerified = true };
        admin.PasswordHash = hasher.HashPassword(admin, password);
        db.Users.Add(admin);

        if (!await db.Customers.AnyAsync(ct) && configuration.GetValue("Cmp:DemoData", true))
        {
            var demo = new Customer { Name = "Demo organization", Abbreviation = "DEMO", Email = email, Description = "Created on first run so there is something to look at." };
            var project = new Project { CustomerId = demo.Id, Name = "Default project" };
            db.Customers.Add(demo);
            db.Projects.Add(project);
            db.CustomerPermissions.Add(new CustomerPermission { CustomerId = demo.Id, UserId = admin.Id, Role = CustomerRole.Owner });
            db.ProjectPermissions.Add(new ProjectPermission { ProjectId = project.Id, UserId = admin.Id, Role = ProjectRole.Admin });
        }
        await db.SaveChangesAsync(ct);
        return new Result(email, generated, true);
    }

    /// <summary>20 characters from a 62-letter alphabet: about 119 bits.</summary>
    private static string GeneratePassword() =>
        RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_", 20);
}
