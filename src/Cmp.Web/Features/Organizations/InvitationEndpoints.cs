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

    private static InvitationDto ToDto(InvitationRow r, HttpContext ctx)
    {
        var i = r.Invitation;
        return new InvitationDto(i.Id.Hex(), Refs.Url(ctx, "user-invitations", i.Id), i.Email, i.Role, r.State, i.CustomerId.Hex(), r.CustomerName,
            i.ProjectId?.Hex(), r.ProjectName, i.ExpiresAt, i.CreatedAt, i.CreatedById.Hex(), i.AcceptedAt);
    }

    private static async Task<Results<Ok<List<InvitationDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? customer_uuid, string? state, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var invitations = InvitationOperations.Visible(db, access, await InvitationOperations.MyEmailAsync(db, access, ct)).AsNoTracking();
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
        var page = await ordered.Rows().ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(r => ToDto(r, ctx)).ToList());
    }

    private static async Task<Results<Created<InvitationDto>, ProblemHttpResult>> CreateAsync(
        InvitationRequest body, HttpContext ctx, CmpDbContext db, Access access, EmailSender email, AccountService accounts, CancellationToken ct)
    {
        var outcome = await InvitationOperations.CreateAsync(db, access, email, accounts.PublicBaseUrl(ctx), body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = ToDto(outcome.Value!, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<InvitationDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var row = await InvitationOperations.FindVisibleAsync(db, access, uuid, ct);
        return row is null ? Problems.NotFound("invitation") : TypedResults.Ok(ToDto(row, ctx));
    }

    private static async Task<Results<Ok<InvitationDto>, ProblemHttpResult>> AcceptAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await InvitationOperations.AcceptAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }

    private static async Task<Results<Ok<InvitationDto>, ProblemHttpResult>> CancelAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await InvitationOperations.CancelAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }
}
