using Cmp.Web.Features.Accounts;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Organizations;

public sealed record InvitationRequest(string? Customer, string? Project, string? Email, string? Role);
public sealed record InvitationDto(
    string Uuid, string Url, string Email, string Role, string State, string CustomerUuid, string CustomerName,
    string? ProjectUuid, string? ProjectName, DateTime ExpiresAt, DateTime Created, string CreatedByUuid, DateTime? AcceptedAt);

public static class InvitationEndpoints
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    public static IEndpointRouteBuilder MapInvitationEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/user-invitations").WithTags("Invitations").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListInvitations");
        g.MapPost("/", CreateAsync).WithName("CreateInvitation");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetInvitation");
        g.MapPost("/{uuid}/accept/", AcceptAsync).WithName("AcceptInvitation");
        g.MapPost("/{uuid}/cancel/", CancelAsync).WithName("CancelInvitation");
        return app;
    }

    private sealed record Row(Invitation Invitation, string CustomerName, string? ProjectName);

    private static InvitationDto ToDto(Row r, HttpContext ctx)
    {
        var i = r.Invitation;
        var state = i.State == InvitationState.Pending && i.ExpiresAt <= DateTime.UtcNow ? "expired" : i.State.ToString().ToLowerInvariant();
        return new InvitationDto(i.Id.Hex(), Refs.Url(ctx, "user-invitations", i.Id), i.Email, i.Role, state, i.CustomerId.Hex(), r.CustomerName,
            i.ProjectId?.Hex(), r.ProjectName, i.ExpiresAt, i.CreatedAt, i.CreatedById.Hex(), i.AcceptedAt);
    }

    /// <summary>Invitations addressed to the caller, plus those of scopes whose users the caller manages.</summary>
    private static IQueryable<Invitation> Visible(CmpDbContext db, Access access, string myEmail)
    {
        if (access.IsStaff)
        {
            return db.Invitations;
        }
        var me = access.UserId;
        var customerManagers = Roles.CustomerRolesWith(Permission.ManageCustomerUsers);
        var projectManagersInCustomer = Roles.CustomerRolesWith(Permission.ManageProjectUsers);
        var projectManagers = Roles.ProjectRolesWith(Permission.ManageProjectUsers);
        return db.Invitations.Where(i =>
            i.Email == myEmail
            || (i.ProjectId == null && db.CustomerPermissions.Any(p => p.CustomerId == i.CustomerId && p.UserId == me && customerManagers.Contains(p.Role)))
            || (i.ProjectId != null && (db.CustomerPermissions.Any(p => p.CustomerId == i.CustomerId && p.UserId == me && projectManagersInCustomer.Contains(p.Role))
                                        || db.ProjectPermissions.Any(p => p.ProjectId == i.ProjectId && p.UserId == me && projectManagers.Contains(p.Role)))));
    }

    private static async Task<string> MyEmailAsync(CmpDbContext db, Access access, CancellationToken ct) =>
        await db.Users.Where(u => u.Id == access.UserId).Select(u => u.Email).FirstAsync(ct);

    private static async Task<Results<Ok<List<InvitationDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? customer_uuid, string? state, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var invitations = Visible(db, access, await MyEmailAsync(db, access, ct)).AsNoTracking();
        if (customer_uuid is not null)
        {
            if (!Refs.TryParse(customer_uuid, out var customerId))
            {
                return Problems.Validation("customer_uuid", "Enter a valid uuid.");
            }
            invitations = invitations.Where(i => i.CustomerId == customerId);
        }
        if (state is not null)
        {
            var name = Enum.GetNames<InvitationState>().FirstOrDefault(n => n.Equals(state, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                return Problems.Validation("state", "Choose one of: pending, accepted, canceled.");
            }
            var parsed = Enum.Parse<InvitationState>(name);
            invitations = invitations.Where(i => i.State == parsed);
        }
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            invitations = invitations.Where(i => i.Email.Contains(t));
        }
        var ordering = new Ordering<Invitation>("-created").Field("created", i => i.CreatedAt).Field("email", i => i.Email);
        if (!ordering.TryApply(invitations, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.Select(i => new Row(i, i.Customer.Name, i.Project != null ? i.Project.Name : null)).ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Results<Created<InvitationDto>, ProblemHttpResult>> CreateAsync(
        InvitationRequest body, HttpContext ctx, CmpDbContext db, Access access, EmailSender email, AccountService accounts, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var address = errors.Email("email", body.Email, required: true);
        Customer? customer = null;
        Project? project = null;
        if (string.IsNullOrWhiteSpace(body.Customer) == string.IsNullOrWhiteSpace(body.Project))
        {
            errors.Add("customer", "Give exactly one of customer and project.");
        }
        else if (!string.IsNullOrWhiteSpace(body.Project))
        {
            project = Refs.TryParse(body.Project, out var pid) ? await access.VisibleProjects().Include(p => p.Customer).FirstOrDefaultAsync(p => p.Id == pid, ct) : null;
            customer = project?.Customer;
            if (project is null)
            {
                errors.Add("project", "No project with this uuid is visible to you.");
            }
        }
        else
        {
            customer = Refs.TryParse(body.Customer, out var cid) ? await access.VisibleCustomers().FirstOrDefaultAsync(c => c.Id == cid, ct) : null;
            if (customer is null)
            {
                errors.Add("customer", "No organization with this uuid is visible to you.");
            }
        }
        string? role = null;
        if (project is not null)
        {
            role = Roles.TryParse(body.Role, out ProjectRole pr) ? pr.Name() : null;
            if (role is null)
            {
                errors.Add("role", $"Choose one of: {Roles.Allowed<ProjectRole>()}.");
            }
        }
        else if (customer is not null)
        {
            role = Roles.TryParse(body.Role, out CustomerRole cr) ? cr.Name() : null;
            if (role is null)
            {
                errors.Add("role", $"Choose one of: {Roles.Allowed<CustomerRole>()}.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        var allowed = project is not null
            ? await access.HasProjectPermissionAsync(project.Id, Permission.ManageProjectUsers, ct)
            : await access.HasCustomerPermissionAsync(customer!.Id, Permission.ManageCustomerUsers, ct);
        if (!allowed)
        {
            return Problems.Forbidden("You may not invite users to this " + (project is not null ? "project." : "organization."));
        }
        var now = DateTime.UtcNow;
        var projectId = project?.Id;
        if (await db.Invitations.AnyAsync(i => i.Email == address && i.CustomerId == customer!.Id && i.ProjectId == projectId
                                               && i.Role == role && i.State == InvitationState.Pending && i.ExpiresAt > now, ct))
        {
            return Problems.Conflict($"{address} already has a pending invitation for this role.");
        }
        var invitation = new Invitation
        {
            CustomerId = customer!.Id,
            ProjectId = projectId,
            Email = address!,
            Role = role!,
            ExpiresAt = now + Lifetime,
            CreatedById = access.UserId,
        };
        db.Invitations.Add(invitation);
        await db.SaveChangesAsync(ct);

        var scope = project is not null ? $"the project \"{project.Name}\" of {customer.Name}" : $"the organization \"{customer.Name}\"";
        var baseUrl = accounts.PublicBaseUrl(ctx);
        await email.SendAsync(invitation.Email, $"You are invited to {customer.Name} on CMP",
            $"""
            Hello,

            You are invited to join {scope} on CMP as {invitation.Role}.

            Accept the invitation here (sign up or sign in with {invitation.Email} first):
            {baseUrl}/invitations/{invitation.Id:N}/

            Over the API: POST {baseUrl}/api/user-invitations/{invitation.Id:N}/accept/
            The invitation expires on {invitation.ExpiresAt:yyyy-MM-dd HH:mm} UTC.
            """, ct);
        var dto = ToDto(new Row(invitation, customer.Name, project?.Name), ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Row?> FindVisibleAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id))
        {
            return null;
        }
        var myEmail = await MyEmailAsync(db, access, ct);
        return await Visible(db, access, myEmail).AsNoTracking().Where(i => i.Id == id)
            .Select(i => new Row(i, i.Customer.Name, i.Project != null ? i.Project.Name : null)).FirstOrDefaultAsync(ct);
    }

    private static async Task<Results<Ok<InvitationDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, db, access, ct);
        return row is null ? Problems.NotFound("invitation") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Ok<InvitationDto>, ProblemHttpResult>> AcceptAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, db, access, ct);
        var myEmail = await MyEmailAsync(db, access, ct);
        // Only the invitee may accept; to anyone else it does not exist.
        if (row is null || row.Invitation.Email != myEmail)
        {
            return Problems.NotFound("invitation");
        }
        var invitation = row.Invitation;
        var now = DateTime.UtcNow;
        var me = access.UserId;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var moved = await db.Invitations
            .Where(i => i.Id == invitation.Id && i.State == InvitationState.Pending && i.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.State, InvitationState.Accepted).SetProperty(i => i.AcceptedAt, now)
                .SetProperty(i => i.AcceptedById, me).SetProperty(i => i.Version, Guid.NewGuid()), ct);
        if (moved != 1)
        {
            var why = invitation.State != InvitationState.Pending ? $"it is already {invitation.State.ToString().ToLowerInvariant()}" : "it has expired";
            return Problems.Conflict($"The invitation cannot be accepted: {why}.", ProblemTypes.InvalidTransition);
        }
        await GrantAsync(db, invitation, me, ct);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        invitation.State = InvitationState.Accepted;
        invitation.AcceptedAt = now;
        return TypedResults.Ok(ToDto(row, ctx));
    }

    /// <summary>Gives the invitee the invited role unless they already hold it.</summary>
    internal static async Task GrantAsync(CmpDbContext db, Invitation invitation, Guid userId, CancellationToken ct)
    {
        if (invitation.ProjectId is { } projectId)
        {
            Roles.TryParse(invitation.Role, out ProjectRole role);
            if (!await db.ProjectPermissions.AnyAsync(p => p.ProjectId == projectId && p.UserId == userId && p.Role == role, ct))
            {
                db.ProjectPermissions.Add(new ProjectPermission { ProjectId = projectId, UserId = userId, Role = role, CreatedById = invitation.CreatedById });
            }
        }
        else
        {
            Roles.TryParse(invitation.Role, out CustomerRole role);
            if (!await db.CustomerPermissions.AnyAsync(p => p.CustomerId == invitation.CustomerId && p.UserId == userId && p.Role == role, ct))
            {
                db.CustomerPermissions.Add(new CustomerPermission { CustomerId = invitation.CustomerId, UserId = userId, Role = role, CreatedById = invitation.CreatedById });
            }
        }
    }

    private static async Task<Results<Ok<InvitationDto>, ProblemHttpResult>> CancelAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await FindVisibleAsync(uuid, db, access, ct);
        if (row is null)
        {
            return Problems.NotFound("invitation");
        }
        var invitation = row.Invitation;
        var allowed = invitation.ProjectId is { } pid
            ? await access.HasProjectPermissionAsync(pid, Permission.ManageProjectUsers, ct)
            : await access.HasCustomerPermissionAsync(invitation.CustomerId, Permission.ManageCustomerUsers, ct);
        if (!allowed)
        {
            return Problems.Forbidden("Only those who manage this scope's users may cancel its invitations.");
        }
        var now = DateTime.UtcNow;
        var me = access.UserId;
        var moved = await db.Invitations.Where(i => i.Id == invitation.Id && i.State == InvitationState.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.State, InvitationState.Canceled).SetProperty(i => i.CanceledAt, now)
                .SetProperty(i => i.CanceledById, me).SetProperty(i => i.Version, Guid.NewGuid()), ct);
        if (moved != 1)
        {
            return Problems.Conflict($"The invitation is already {invitation.State.ToString().ToLowerInvariant()}.", ProblemTypes.InvalidTransition);
        }
        invitation.State = InvitationState.Canceled;
        return TypedResults.Ok(ToDto(row, ctx));
    }
}
