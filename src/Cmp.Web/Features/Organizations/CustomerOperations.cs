using Cmp.Web.Features.Accounts;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Organizations;

/// <summary>A role a user holds in an organization (one row per role).</summary>
public sealed record Member(Guid PermissionId, Guid CustomerId, Guid UserId, string Email, string FullName, CustomerRole Role, DateTime Created);

/// <summary>What the caller may do in an organization, from the one role table (staff: everything).</summary>
public sealed record OrganizationRights(bool ViewMembers, bool Update, bool ManageMembers, bool CreateProject, bool RegisterProvider);

/// <summary>
/// The organization rules, for <c>/api/customers/</c> and the organization pages alike. Another tenant's
/// organization is simply not found (<see cref="Access.VisibleCustomers"/>).
/// </summary>
public static class CustomerOperations
{
    /// <summary>A customer the caller can see; anything else (unknown, malformed, another tenant's) is null.</summary>
    public static async Task<Customer?> FindVisibleAsync(Access access, string? uuid, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await access.VisibleCustomers().FirstOrDefaultAsync(c => c.Id == id, ct) : null;

    public static async Task<OrganizationRights> RightsAsync(Access access, Guid customerId, CancellationToken ct) => new(
        await access.HasCustomerPermissionAsync(customerId, Permission.ViewCustomer, ct),
        await access.HasCustomerPermissionAsync(customerId, Permission.UpdateCustomer, ct),
        await access.HasCustomerPermissionAsync(customerId, Permission.ManageCustomerUsers, ct),
        await access.HasCustomerPermissionAsync(customerId, Permission.CreateProject, ct),
        await access.HasCustomerPermissionAsync(customerId, Permission.RegisterServiceProvider, ct));

    /// <summary>Whether the caller may create an organization at all: self-registration is on, or they are staff.</summary>
    public static bool CanCreate(Access access, PlatformSettings settings) => settings.AutoApproveSelfRegistration || access.IsStaff;

    /// <summary>
    /// Creates an organization. <paramref name="selfRegister"/>: the caller becomes its owner, allowed when
    /// self-registration is on (or for staff); otherwise the staff path, where the creator takes no role.
    /// </summary>
    public static async Task<Outcome<Customer>> CreateAsync(
        CmpDbContext db, Access access, PlatformSettings settings, CustomerRequest body, bool selfRegister, CancellationToken ct)
    {
        if (!selfRegister && !access.IsStaff)
        {
            return Problems.Forbidden("Only staff may create organizations here; use POST /api/customers/self_register/ when self-registration is enabled.");
        }
        if (selfRegister && !settings.AutoApproveSelfRegistration && !access.IsStaff)
        {
            return Problems.Create(403, ProblemTypes.SelfRegistrationDisabled, "Self-registration is disabled.",
                $"Organization self-registration is turned off on this platform ({PlatformSettings.OnboardingUniversalAutoApprove}=false). Ask staff to create the organization.");
        }
        var errors = Validate(body, create: true, out var name, out var abbreviation, out var email, out var description);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var me = access.UserId;
        var customer = new Customer { Name = name!, Abbreviation = abbreviation ?? "", Email = email ?? "", Description = description ?? "" };
        db.Customers.Add(customer);
        if (selfRegister)
        {
            db.CustomerPermissions.Add(new CustomerPermission { CustomerId = customer.Id, UserId = me, Role = CustomerRole.Owner, CreatedById = me });
        }
        if (settings.CreateDefaultProjectOnOrganizationCreation)
        {
            var project = new Project { CustomerId = customer.Id, Name = "Default project" };
            db.Projects.Add(project);
            db.ProjectPermissions.Add(new ProjectPermission { ProjectId = project.Id, UserId = me, Role = ProjectRole.Admin, CreatedById = me });
        }
        await db.SaveChangesAsync(ct);
        return customer;
    }

    public static async Task<Outcome<Customer>> UpdateAsync(CmpDbContext db, Access access, string? uuid, CustomerRequest body, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(access, uuid, ct);
        if (customer is null)
        {
            return Problems.NotFound("organization");
        }
        if (!await access.HasCustomerPermissionAsync(customer.Id, Permission.UpdateCustomer, ct))
        {
            return Problems.Forbidden("Only the organization's owners and staff may change it.");
        }
        var errors = Validate(body, create: false, out var name, out var abbreviation, out var email, out var description);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        customer.Name = name ?? customer.Name;
        customer.Abbreviation = abbreviation ?? customer.Abbreviation;
        customer.Email = email ?? customer.Email;
        customer.Description = description ?? customer.Description;
        await db.SaveChangesAsync(ct);
        return customer;
    }

    /// <summary>Validates the fields of a create (all required ones present) or a patch (only what is sent).</summary>
    private static FieldErrors Validate(CustomerRequest body, bool create, out string? name, out string? abbreviation, out string? email, out string? description)
    {
        var errors = new FieldErrors();
        name = errors.Text("name", body.Name, 150, required: create || body.Name is not null);
        abbreviation = errors.Text("abbreviation", body.Abbreviation, 12);
        email = errors.Email("email", body.Email);
        description = errors.Text("description", body.Description, 2000);
        return errors;
    }

    /// <summary>The organization's roles by user, for its members (a project-only member may not list them).</summary>
    public static async Task<Outcome<List<Member>>> MembersAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(access, uuid, ct);
        if (customer is null)
        {
            return Problems.NotFound("organization");
        }
        if (!await access.HasCustomerPermissionAsync(customer.Id, Permission.ViewCustomer, ct))
        {
            return Problems.Forbidden("Only the organization's members may list its users.");
        }
        return await db.CustomerPermissions.AsNoTracking().Where(p => p.CustomerId == customer.Id)
            .OrderBy(p => p.User.Email).ThenBy(p => p.Role)
            .Select(p => new Member(p.Id, p.CustomerId, p.UserId, p.User.Email, p.User.FullName, p.Role, p.CreatedAt)).ToListAsync(ct);
    }

    /// <summary>Finds the user named by <c>user</c> (uuid or url) or <c>email</c>; exactly one of the two.</summary>
    internal static async Task<User?> ResolveUserAsync(string? user, string? email, CmpDbContext db, FieldErrors errors, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(user) == string.IsNullOrWhiteSpace(email))
        {
            errors.Add("user", "Give exactly one of user (uuid or url) and email.");
            return null;
        }
        User? found;
        if (!string.IsNullOrWhiteSpace(user))
        {
            found = Refs.TryParse(user, out var id) ? await db.Users.FirstOrDefaultAsync(u => u.Id == id, ct) : null;
            if (found is null)
            {
                errors.Add("user", "No user with this uuid.");
            }
            return found;
        }
        var normalized = errors.Email("email", email);
        if (errors.Any)
        {
            return null;
        }
        found = await db.Users.FirstOrDefaultAsync(u => u.Email == normalized, ct);
        if (found is null)
        {
            errors.Add("email", "No user with this email; send an invitation instead (POST /api/user-invitations/).");
        }
        return found;
    }

    /// <summary>Gives an existing user a role; owners and staff only.</summary>
    public static async Task<Outcome<Member>> AddUserAsync(CmpDbContext db, Access access, string? uuid, AddUserRequest body, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(access, uuid, ct);
        if (customer is null)
        {
            return Problems.NotFound("organization");
        }
        if (!await access.HasCustomerPermissionAsync(customer.Id, Permission.ManageCustomerUsers, ct))
        {
            return Problems.Forbidden("Only the organization's owners and staff may add users to it.");
        }
        var errors = new FieldErrors();
        if (!Roles.TryParse(body.Role, out CustomerRole role))
        {
            errors.Add("role", $"Choose one of: {Roles.Allowed<CustomerRole>()}.");
        }
        var user = await ResolveUserAsync(body.User, body.Email, db, errors, ct);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (await db.CustomerPermissions.AnyAsync(p => p.CustomerId == customer.Id && p.UserId == user!.Id && p.Role == role, ct))
        {
            return Problems.Conflict($"{user!.Email} already has the role {role.Name()} in this organization.");
        }
        var permission = new CustomerPermission { CustomerId = customer.Id, UserId = user!.Id, Role = role, CreatedById = access.UserId };
        db.CustomerPermissions.Add(permission);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict($"{user.Email} already has the role {role.Name()} in this organization.");
        }
        return new Member(permission.Id, customer.Id, user.Id, user.Email, user.FullName, role, permission.CreatedAt);
    }

    /// <summary>Takes a user's role (or all their roles) away; an organization keeps at least one owner unless staff act.</summary>
    public static async Task<Outcome<Done>> RemoveUserAsync(CmpDbContext db, Access access, string? uuid, DeleteUserRequest body, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(access, uuid, ct);
        if (customer is null)
        {
            return Problems.NotFound("organization");
        }
        if (!await access.HasCustomerPermissionAsync(customer.Id, Permission.ManageCustomerUsers, ct))
        {
            return Problems.Forbidden("Only the organization's owners and staff may remove users from it.");
        }
        var errors = new FieldErrors();
        CustomerRole? role = null;
        if (body.Role is not null)
        {
            if (Roles.TryParse(body.Role, out CustomerRole parsed))
            {
                role = parsed;
            }
            else
            {
                errors.Add("role", $"Choose one of: {Roles.Allowed<CustomerRole>()}.");
            }
        }
        var user = await ResolveUserAsync(body.User, body.Email, db, errors, ct);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        // Check and delete under the organization's row lock: two owners removing each other at once would otherwise
        // both see another owner remaining and leave none (see RowLocks for how each database serializes them).
        await using var tx = await db.BeginLockingAsync<Customer>(customer.Id, ct);
        var rows = await db.CustomerPermissions.Where(p => p.CustomerId == customer.Id && p.UserId == user!.Id && (role == null || p.Role == role)).ToListAsync(ct);
        if (rows.Count == 0)
        {
            return Problems.Validation("user", "This user holds no such role in this organization.");
        }
        var removesOwner = rows.Any(r => r.Role == CustomerRole.Owner);
        if (removesOwner && !access.IsStaff
            && !await db.CustomerPermissions.AnyAsync(p => p.CustomerId == customer.Id && p.Role == CustomerRole.Owner && p.UserId != user!.Id, ct))
        {
            return Problems.Conflict("An organization keeps at least one owner; add another owner first.");
        }
        db.CustomerPermissions.RemoveRange(rows);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return Done.Value;
    }
}
