using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Organizations;

public sealed record ProjectRequest(string? Customer, string? Name, string? Description);
public sealed record ProjectDto(string Uuid, string Url, string Name, string Description, string Customer, string CustomerUuid, string CustomerName, DateTime Created);

public static class ProjectEndpoints
{
    public static IEndpointRouteBuilder MapProjectEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/projects").WithTags("Projects").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListProjects");
        g.MapPost("/", CreateAsync).WithName("CreateProject");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetProject");
        g.MapPatch("/{uuid}/", UpdateAsync).WithName("UpdateProject");
        g.MapDelete("/{uuid}/", DeleteAsync).WithName("DeleteProject");
        g.MapGet("/{uuid}/users/", UsersAsync).WithName("ListProjectUsers");
        g.MapPost("/{uuid}/add_user/", AddUserAsync).WithName("AddProjectUser");
        g.MapPost("/{uuid}/delete_user/", DeleteUserAsync).WithName("DeleteProjectUser");
        return app;
    }

    private sealed record Row(Project Project, string CustomerName);

    private static ProjectDto ToDto(Project p, string customerName, HttpContext ctx) =>
        new(p.Id.Hex(), Refs.Url(ctx, "projects", p.Id), p.Name, p.Description, Refs.Url(ctx, "customers", p.CustomerId), p.CustomerId.Hex(), customerName, p.CreatedAt);

    private static readonly Ordering<Project> ProjectOrdering = new Ordering<Project>("name")
        .Field("name", p => p.Name).Field("created", p => p.CreatedAt).Field("customer_name", p => p.Customer.Name);

    private static async Task<Results<Ok<List<ProjectDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? customer_uuid, HttpContext ctx, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var projects = access.VisibleProjects().AsNoTracking();
        if (customer_uuid is not null)
        {
            if (!Refs.TryParse(customer_uuid, out var customerId))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            projects = projects.Where(p => p.CustomerId == customerId);
        }
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            projects = projects.Where(p => p.Name.ToLower().Contains(t));
        }
        if (!ProjectOrdering.TryApply(projects, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.Select(p => new Row(p, p.Customer.Name)).ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r.Project, r.CustomerName, ctx)).ToList());
    }

    private static async Task<Results<Created<ProjectDto>, ProblemHttpResult>> CreateAsync(
        ProjectRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await ProjectOperations.CreateAsync(db, access, body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = ToDto(outcome.Value!.Project, outcome.Value.CustomerName, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Row?> FindVisibleAsync(string uuid, Access access, CancellationToken ct) =>
        Refs.TryParse(uuid, out var id)
            ? await access.VisibleProjects().Where(p => p.Id == id).Select(p => new Row(p, p.Customer.Name)).FirstOrDefaultAsync(ct)
            : null;

    private static async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, access, ct);
        return row is null ? Problems.NotFound("project") : TypedResults.Ok(ToDto(row.Project, row.CustomerName, ctx));
    }

    private static async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, ProjectRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, access, ct);
        if (row is null)
        {
            return Problems.NotFound("project");
        }
        if (!await access.HasProjectPermissionAsync(row.Project.Id, Permission.UpdateProject, ct))
        {
            return Problems.Forbidden("You may not change this project.");
        }
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: body.Name is not null);
        var description = errors.Text("description", body.Description, 2000);
        if (body.Customer is not null)
        {
            errors.Add("customer", "A project cannot move to another organization.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var project = row.Project;
        db.Attach(project);
        project.Name = name ?? project.Name;
        project.Description = description ?? project.Description;
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(ToDto(project, row.CustomerName, ctx));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, access, ct);
        if (row is null)
        {
            return Problems.NotFound("project");
        }
        if (!await access.HasProjectPermissionAsync(row.Project.Id, Permission.DeleteProject, ct))
        {
            return Problems.Forbidden("Only the organization's owners and staff may delete a project.");
        }
        var holders = await HoldersAsync(db, row.Project.Id, ct);
        if (holders is not null)
        {
            return Problems.Conflict(holders);
        }
        try
        {
            await db.Projects.Where(p => p.Id == row.Project.Id).ExecuteDeleteAsync(ct);
        }
        catch (Exception ex) when (DbErrors.IsForeignKeyViolation(ex))
        {
            // An order placed between the check and the delete: the foreign key refused the delete, so nothing changed.
            return Problems.Conflict(await HoldersAsync(db, row.Project.Id, ct) ?? "The project cannot be deleted: an order or resource was just created in it.");
        }
        return TypedResults.NoContent();
    }

    private const int HoldersNamed = 10;

    /// <summary>Why the project cannot be deleted: the marketplace resources and orders that point at it (they keep their
    /// project for billing and history, whatever their state), named up to <see cref="HoldersNamed"/>; null when none do.</summary>
    private static async Task<string?> HoldersAsync(CmpDbContext db, Guid projectId, CancellationToken ct)
    {
        var resources = await db.Resources.AsNoTracking().Where(r => r.ProjectId == projectId).OrderBy(r => r.Name).ThenBy(r => r.Id)
            .Select(r => new { r.Id, r.Name, r.State }).Take(HoldersNamed + 1).ToListAsync(ct);
        var orders = await db.Orders.AsNoTracking().Where(o => o.ProjectId == projectId).OrderBy(o => o.Id)
            .Select(o => new { o.Id, o.State }).Take(HoldersNamed + 1).ToListAsync(ct);
        if (resources.Count == 0 && orders.Count == 0)
        {
            return null;
        }
        var detail = new List<string> { "The project cannot be deleted while marketplace resources or orders point at it." };
        if (resources.Count > 0)
        {
            var total = resources.Count > HoldersNamed ? await db.Resources.CountAsync(r => r.ProjectId == projectId, ct) : resources.Count;
            var named = resources.Take(HoldersNamed).Select(r => $"\"{r.Name}\" ({r.Id.Hex()}, {r.State.Screaming()})");
            detail.Add($"Resources ({total}): {string.Join(", ", named)}{More(total)}.");
        }
        if (orders.Count > 0)
        {
            var total = orders.Count > HoldersNamed ? await db.Orders.CountAsync(o => o.ProjectId == projectId, ct) : orders.Count;
            var named = orders.Take(HoldersNamed).Select(o => $"{o.Id.Hex()} ({o.State.Screaming()})");
            detail.Add($"Orders ({total}): {string.Join(", ", named)}{More(total)}.");
        }
        detail.Add("Their records are kept whatever their state, so terminated resources and canceled or rejected orders still hold the project.");
        return string.Join(" ", detail);

        static string More(int total) => total > HoldersNamed ? $" and {total - HoldersNamed} more" : "";
    }

    private static async Task<Results<Ok<List<MembershipDto>>, ProblemHttpResult>> UsersAsync(
        string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, access, ct);
        if (row is null)
        {
            return Problems.NotFound("project");
        }
        var rows = await db.ProjectPermissions.AsNoTracking().Where(p => p.ProjectId == row.Project.Id)
            .OrderBy(p => p.User.Email).ThenBy(p => p.Role)
            .Select(p => new { p.Id, p.UserId, p.User.Email, p.User.FullName, p.Role, p.CreatedAt }).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(r => new MembershipDto(r.Id.Hex(), r.UserId.Hex(), Refs.Url(ctx, "users", r.UserId), r.Email, r.FullName, r.Role.Name(), r.CreatedAt)).ToList());
    }

    private static async Task<Results<Created<MembershipDto>, ProblemHttpResult>> AddUserAsync(
        string uuid, AddUserRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, access, ct);
        if (row is null)
        {
            return Problems.NotFound("project");
        }
        if (!await access.HasProjectPermissionAsync(row.Project.Id, Permission.ManageProjectUsers, ct))
        {
            return Problems.Forbidden("Only project admins, the organization's owners and managers, and staff may add users to a project.");
        }
        var errors = new FieldErrors();
        if (!Roles.TryParse(body.Role, out ProjectRole role))
        {
            errors.Add("role", $"Choose one of: {Roles.Allowed<ProjectRole>()}.");
        }
        var user = await CustomerOperations.ResolveUserAsync(body.User, body.Email, db, errors, ct);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (await db.ProjectPermissions.AnyAsync(p => p.ProjectId == row.Project.Id && p.UserId == user!.Id && p.Role == role, ct))
        {
            return Problems.Conflict($"{user!.Email} already has the role {role.Name()} in this project.");
        }
        var permission = new ProjectPermission { ProjectId = row.Project.Id, UserId = user!.Id, Role = role, CreatedById = access.UserId };
        db.ProjectPermissions.Add(permission);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict($"{user.Email} already has the role {role.Name()} in this project.");
        }
        var dto = new MembershipDto(permission.Id.Hex(), user.Id.Hex(), Refs.Url(ctx, "users", user.Id), user.Email, user.FullName, role.Name(), permission.CreatedAt);
        return TypedResults.Created(Refs.Url(ctx, "projects", row.Project.Id) + "users/", dto);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(
        string uuid, DeleteUserRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, access, ct);
        if (row is null)
        {
            return Problems.NotFound("project");
        }
        if (!await access.HasProjectPermissionAsync(row.Project.Id, Permission.ManageProjectUsers, ct))
        {
            return Problems.Forbidden("Only project admins, the organization's owners and managers, and staff may remove users from a project.");
        }
        var errors = new FieldErrors();
        ProjectRole? role = null;
        if (body.Role is not null)
        {
            if (Roles.TryParse(body.Role, out ProjectRole parsed))
            {
                role = parsed;
            }
            else
            {
                errors.Add("role", $"Choose one of: {Roles.Allowed<ProjectRole>()}.");
            }
        }
        var user = await CustomerOperations.ResolveUserAsync(body.User, body.Email, db, errors, ct);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var deleted = await db.ProjectPermissions
            .Where(p => p.ProjectId == row.Project.Id && p.UserId == user!.Id && (role == null || p.Role == role))
            .ExecuteDeleteAsync(ct);
        return deleted == 0 ? Problems.Validation("user", "This user holds no such role in this project.") : TypedResults.NoContent();
    }
}
