using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Organizations;

/// <summary>A project with its organization's name, as lists show it.</summary>
public sealed record ProjectRow(Project Project, string CustomerName);

/// <summary>The project rules, for <c>/api/projects/</c> and the organization settings page alike.</summary>
public static class ProjectOperations
{
    /// <summary>The projects of an organization that the caller can see (all of them for its members and staff), by name.</summary>
    public static Task<List<Project>> ListAsync(Access access, Guid customerId, CancellationToken ct) =>
        access.VisibleProjects().AsNoTracking().Where(p => p.CustomerId == customerId).OrderBy(p => p.Name).ThenBy(p => p.Id).ToListAsync(ct);

    /// <summary>A new project in an organization the caller can see; owners, managers and staff only.</summary>
    public static async Task<Outcome<ProjectRow>> CreateAsync(CmpDbContext db, Access access, ProjectRequest body, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: true);
        var description = errors.Text("description", body.Description, 2000);
        Customer? customer = null;
        if (string.IsNullOrWhiteSpace(body.Customer))
        {
            errors.Add("customer", "This field is required.");
        }
        else
        {
            // Unknown and invisible organizations read the same: no hint that another tenant's exists.
            customer = Refs.TryParse(body.Customer, out var customerId)
                ? await access.VisibleCustomers().FirstOrDefaultAsync(c => c.Id == customerId, ct)
                : null;
            if (customer is null)
            {
                errors.Add("customer", "No organization with this uuid is visible to you.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (!await access.HasCustomerPermissionAsync(customer!.Id, Permission.CreateProject, ct))
        {
            return Problems.Forbidden("Only the organization's owners, managers and staff may create projects.");
        }
        var project = new Project { CustomerId = customer.Id, Name = name!, Description = description ?? "" };
        db.Projects.Add(project);
        await db.SaveChangesAsync(ct);
        return new ProjectRow(project, customer.Name);
    }
}
