using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Organizations;

/// <summary>An invitation with the names of its organization and project.</summary>
public sealed record InvitationRow(Invitation Invitation, string CustomerName, string? ProjectName)
{
    /// <summary>The state as the API names it: a pending invitation past its expiry reads <c>expired</c>.</summary>
    public string State => Invitation.State == InvitationState.Pending && Invitation.ExpiresAt <= DateTime.UtcNow
        ? "expired"
        : Invitation.State.ToString().ToLowerInvariant();
}

/// <summary>The invitation rules, for <c>/api/user-invitations/</c> and the organization pages alike.</summary>
public static class InvitationOperations
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    /// <summary>Invitations addressed to the caller, plus those of scopes whose users the caller manages.</summary>
    public static IQueryable<Invitation> Visible(CmpDbContext db, Access access, string myEmail)
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

    public static async Task<string> MyEmailAsync(CmpDbContext db, Access access, CancellationToken ct) =>
        await db.Users.Where(u => u.Id == access.UserId).Select(u => u.Email).FirstAsync(ct);

    public static IQueryable<InvitationRow> Rows(this IQueryable<Invitation> invitations) =>
        invitations.Select(i => new InvitationRow(i, i.Customer.Name, i.Project != null ? i.Project.Name : null));

    /// <summary>The organization's invitations still waiting for an answer (expired ones included), that the caller may see; newest first.</summary>
    public static async Task<List<InvitationRow>> PendingAsync(CmpDbContext db, Access access, Guid customerId, CancellationToken ct)
    {
        var mine = await MyEmailAsync(db, access, ct);
        return await Visible(db, access, mine).AsNoTracking()
            .Where(i => i.CustomerId == customerId && i.State == InvitationState.Pending)
            .OrderByDescending(i => i.CreatedAt).Rows().ToListAsync(ct);
    }

    public static async Task<InvitationRow?> FindVisibleAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct)
    {
        if (!Refs.TryParse(uuid, out var id))
        {
            return null;
        }
        var myEmail = await MyEmailAsync(db, access, ct);
        return await Visible(db, access, myEmail).AsNoTracking().Where(i => i.Id == id).Rows().FirstOrDefaultAsync(ct);
    }

    /// <summary>
    /// Invites an address to a role in an organization or one of its projects (whoever manages that scope's users)
    /// and mails it a link to <c>{baseUrl}/invitations/{uuid}/</c>.
    /// </summary>
    public static async Task<Outcome<InvitationRow>> CreateAsync(
        CmpDbContext db, Access access, EmailSender email, string baseUrl, InvitationRequest body, CancellationToken ct)
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
        baseUrl = baseUrl.TrimEnd('/');
        await email.SendAsync(invitation.Email, $"You are invited to {customer.Name} on CMP",
            $"""
            Hello,

            You are invited to join {scope} on CMP as {invitation.Role}.

            Accept the invitation here (sign up or sign in with {invitation.Email} first):
            {baseUrl}/invitations/{invitation.Id:N}/

            Over the API: POST {baseUrl}/api/user-invitations/{invitation.Id:N}/accept/
            The invitation expires on {invitation.ExpiresAt:yyyy-MM-dd HH:mm} UTC.
            """, ct);
        return new InvitationRow(invitation, customer.Name, project?.Name);
    }

    /// <summary>The invitee takes the invited role (before expiry, once).</summary>
    public static async Task<Outcome<InvitationRow>> AcceptAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct)
    {
        var row = await FindVisibleAsync(db, access, uuid, ct);
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
        return row;
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

    /// <summary>Whether the caller may cancel it: those who manage the invitation's scope's users.</summary>
    public static Task<bool> CanCancelAsync(Access access, Invitation invitation, CancellationToken ct) =>
        invitation.ProjectId is { } pid
            ? access.HasProjectPermissionAsync(pid, Permission.ManageProjectUsers, ct)
            : access.HasCustomerPermissionAsync(invitation.CustomerId, Permission.ManageCustomerUsers, ct);

    public static async Task<Outcome<InvitationRow>> CancelAsync(CmpDbContext db, Access access, string? uuid, CancellationToken ct)
    {
        var row = await FindVisibleAsync(db, access, uuid, ct);
        if (row is null)
        {
            return Problems.NotFound("invitation");
        }
        var invitation = row.Invitation;
        if (!await CanCancelAsync(access, invitation, ct))
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
        return row;
    }
}
