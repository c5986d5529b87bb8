using Cmp.Web.Features.Accounts;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Organizations;

public sealed record CustomerRequest(string? Name, string? Abbreviation, string? Email, string? Description);
public sealed record CustomerDto(string Uuid, string Url, string Name, string Abbreviation, string Email, string Description, DateTime Created);
public sealed record AddUserRequest(string? User, string? Email, string? Role);
public sealed record DeleteUserRequest(string? User, string? Email, string? Role);
public sealed record MembershipDto(string Uuid, string UserUuid, string UserUrl, string Email, string FullName, string Role, DateTime Created);

public static class CustomerEndpoints
{
    public static IEndpointRouteBuilder MapCustomerEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/customers").WithTags("Organizations").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListCustomers");
        g.MapPost("/", CreateAsync).WithName("CreateCustomer");
        g.MapPost("/self_register/", SelfRegisterAsync).WithName("SelfRegisterCustomer");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetCustomer");
        g.MapPatch("/{uuid}/", UpdateAsync).WithName("UpdateCustomer");
        g.MapGet("/{uuid}/users/", UsersAsync).WithName("ListCustomerUsers");
        g.MapPost("/{uuid}/add_user/", AddUserAsync).WithName("AddCustomerUser");
        g.MapPost("/{uuid}/delete_user/", DeleteUserAsync).WithName("DeleteCustomerUser");
        return app;
    }

    internal static CustomerDto ToDto(Customer c, HttpContext ctx) =>
        new(c.Id.Hex(), Refs.Url(ctx, "customers", c.Id), c.Name, c.Abbreviation, c.Email, c.Description, c.CreatedAt);

    private static readonly Ordering<Customer> CustomerOrdering = new Ordering<Customer>("name")
        .Field("name", c => c.Name).Field("abbreviation", c => c.Abbreviation).Field("created", c => c.CreatedAt);

    private static async Task<Results<Ok<List<CustomerDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, HttpContext ctx, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var customers = access.VisibleCustomers().AsNoTracking();
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            customers = customers.Where(c => c.Name.ToLower().Contains(t) || c.Abbreviation.ToLower().Contains(t));
        }
        if (!CustomerOrdering.TryApply(customers, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(c => ToDto(c, ctx)).ToList());
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

    private static async Task<Results<Created<CustomerDto>, ProblemHttpResult>> CreateAsync(
        CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, CancellationToken ct)
    {
        if (!access.IsStaff)
        {
            return Problems.Forbidden("Only staff may create organizations here; use POST /api/customers/self_register/ when self-registration is enabled.");
        }
        return await CreateCoreAsync(body, ctx, db, access, settings, creatorBecomesOwner: false, ct);
    }

    private static async Task<Results<Created<CustomerDto>, ProblemHttpResult>> SelfRegisterAsync(
        CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, CancellationToken ct)
    {
        if (!settings.AutoApproveSelfRegistration && !access.IsStaff)
        {
            return Problems.Create(403, ProblemTypes.SelfRegistrationDisabled, "Self-registration is disabled.",
                $"Organization self-registration is turned off on this platform ({PlatformSettings.OnboardingUniversalAutoApprove}=false). Ask staff to create the organization.");
        }
        return await CreateCoreAsync(body, ctx, db, access, settings, creatorBecomesOwner: true, ct);
    }

    private static async Task<Results<Created<CustomerDto>, ProblemHttpResult>> CreateCoreAsync(
        CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, bool creatorBecomesOwner, CancellationToken ct)
    {
        var errors = Validate(body, create: true, out var name, out var abbreviation, out var email, out var description);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var me = access.UserId;
        var customer = new Customer { Name = name!, Abbreviation = abbreviation ?? "", Email = email ?? "", Description = description ?? "" };
        db.Customers.Add(customer);
        if (creatorBecomesOwner)
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
        var dto = ToDto(customer, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    /// <summary>Loads a customer the caller can see; anything else (unknown, malformed, another tenant's) is not found.</summary>
    private static async Task<Customer?> FindVisibleAsync(string uuid, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id) ? await access.VisibleCustomers().FirstOrDefaultAsync(c => c.Id == id, ct) : null;

    private static async Task<Results<Ok<CustomerDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, Access access, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(uuid, access, ct);
        return customer is null ? Problems.NotFound("organization") : TypedResults.Ok(ToDto(customer, ctx));
    }

    private static async Task<Results<Ok<CustomerDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(uuid, access, ct);
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
        return TypedResults.Ok(ToDto(customer, ctx));
    }

    private static async Task<Results<Ok<List<MembershipDto>>, ProblemHttpResult>> UsersAsync(
        string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(uuid, access, ct);
        if (customer is null)
        {
            return Problems.NotFound("organization");
        }
        if (!await access.HasCustomerPermissionAsync(customer.Id, Permission.ViewCustomer, ct))
        {
            return Problems.Forbidden("Only the organization's members may list its users.");
        }
        var rows = await db.CustomerPermissions.AsNoTracking().Where(p => p.CustomerId == customer.Id)
            .OrderBy(p => p.User.Email).ThenBy(p => p.Role)
            .Select(p => new { p.Id, p.UserId, p.User.Email, p.User.FullName, p.Role, p.CreatedAt }).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(r => new MembershipDto(r.Id.Hex(), r.UserId.Hex(), Refs.Url(ctx, "users", r.UserId), r.Email, r.FullName, r.Role.Name(), r.CreatedAt)).ToList());
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

    private static async Task<Results<Created<MembershipDto>, ProblemHttpResult>> AddUserAsync(
        string uuid, AddUserRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(uuid, access, ct);
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
        var dto = new MembershipDto(permission.Id.Hex(), user.Id.Hex(), Refs.Url(ctx, "users", user.Id), user.Email, user.FullName, role.Name(), permission.CreatedAt);
        return TypedResults.Created(Refs.Url(ctx, "customers", customer.Id) + "users/", dto);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(
        string uuid, DeleteUserRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var customer = await FindVisibleAsync(uuid, access, ct);
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
        return TypedResults.NoContent();
    }
}
