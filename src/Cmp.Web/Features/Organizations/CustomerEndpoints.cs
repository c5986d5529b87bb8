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

    private static async Task<Results<Created<CustomerDto>, ProblemHttpResult>> CreateAsync(
        CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, CancellationToken ct) =>
        Created(await CustomerOperations.CreateAsync(db, access, settings, body, selfRegister: false, ct), ctx);

    private static async Task<Results<Created<CustomerDto>, ProblemHttpResult>> SelfRegisterAsync(
        CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, PlatformSettings settings, CancellationToken ct) =>
        Created(await CustomerOperations.CreateAsync(db, access, settings, body, selfRegister: true, ct), ctx);

    private static Results<Created<CustomerDto>, ProblemHttpResult> Created(Outcome<Customer> outcome, HttpContext ctx)
    {
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = ToDto(outcome.Value!, ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<CustomerDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, Access access, CancellationToken ct)
    {
        var customer = await CustomerOperations.FindVisibleAsync(access, uuid, ct);
        return customer is null ? Problems.NotFound("organization") : TypedResults.Ok(ToDto(customer, ctx));
    }

    private static async Task<Results<Ok<CustomerDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, CustomerRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await CustomerOperations.UpdateAsync(db, access, uuid, body, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }

    internal static MembershipDto ToDto(Member m, HttpContext ctx) =>
        new(m.PermissionId.Hex(), m.UserId.Hex(), Refs.Url(ctx, "users", m.UserId), m.Email, m.FullName, m.Role.Name(), m.Created);

    private static async Task<Results<Ok<List<MembershipDto>>, ProblemHttpResult>> UsersAsync(
        string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await CustomerOperations.MembersAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!.Select(m => ToDto(m, ctx)).ToList()) : outcome.ToProblemResult();
    }

    private static async Task<Results<Created<MembershipDto>, ProblemHttpResult>> AddUserAsync(
        string uuid, AddUserRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await CustomerOperations.AddUserAsync(db, access, uuid, body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var member = outcome.Value!;
        return TypedResults.Created(Refs.Url(ctx, "customers", member.CustomerId) + "users/", ToDto(member, ctx));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(
        string uuid, DeleteUserRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await CustomerOperations.RemoveUserAsync(db, access, uuid, body, ct);
        return outcome.Ok ? TypedResults.NoContent() : outcome.ToProblemResult();
    }
}
