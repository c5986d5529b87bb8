using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.Agents;

public static partial class ProviderAgentEndpoints
{
    public static IEndpointRouteBuilder MapProviderAgentEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/provider-agents").WithTags("Provider agents").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListProviderAgents");
        g.MapPost("/", CreateAsync).WithName("CreateProviderAgent");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetProviderAgent");
        g.MapPatch("/{uuid}/", UpdateAsync).WithName("UpdateProviderAgent");
        g.MapDelete("/{uuid}/", DeleteAsync).WithName("DeleteProviderAgent");
        g.MapPost("/{uuid}/import_flow/", ImportFlowAsync).WithName("ImportFlow");
        g.MapPost("/{uuid}/validate_flow/", ValidateFlowAsync).WithName("ValidateFlow");
        g.MapGet("/{uuid}/files/", ListFilesAsync).WithName("ListAgentFiles");
        g.MapPost("/{uuid}/files/", UploadFileAsync).WithName("UploadAgentFile").DisableAntiforgery();
        g.MapGet("/{uuid}/secrets/", GetSecretsAsync).WithName("GetAgentSecrets");
        g.MapPut("/{uuid}/secrets/", PutSecretsAsync).WithName("PutAgentSecrets");
        g.MapPost("/{uuid}/test_invoke/", TestInvokeAsync).WithName("TestInvokeAgent");
        g.MapPlanEndpoints(); // /{uuid}/plans/…: the Billing feature's
        g.MapPost("/{uuid}/publish/", PublishAsync).WithName("PublishAgent");
        g.MapPost("/{uuid}/pause/", PauseAsync).WithName("PauseAgent");
        g.MapPost("/{uuid}/archive/", ArchiveAsync).WithName("ArchiveAgent");
        g.MapGet("/{uuid}/analytics/", AnalyticsAsync).WithName("GetAgentAnalytics");
        return app;
    }

    // ---- Mapping: the operations (AgentOperations…) hold the rules; a handler binds HTTP and maps the outcome ----

    private static async Task<AgentDto> DtoAsync(ProviderAgent agent, CmpDbContext db, HttpContext ctx, CancellationToken ct)
    {
        var details = await AgentOperations.DetailsAsync(db, agent, ct);
        return agent.ToDto(details.Version, details.Plans, ctx);
    }

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> AgentResultAsync(Outcome<ProviderAgent> outcome, CmpDbContext db, HttpContext ctx, CancellationToken ct) =>
        outcome.Ok ? TypedResults.Ok(await DtoAsync(outcome.Value!, db, ctx, ct)) : outcome.ToProblemResult();

    // ---- CRUD ---------------------------------------------------------------------------

    private static async Task<Results<Ok<List<AgentDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? service_provider_uuid, string? state, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var selection = AgentOperations.Query(db, access, new AgentFilter(service_provider_uuid, state, query.Search));
        if (!selection.Ok)
        {
            return selection.ToProblemResult();
        }
        var ordering = new Ordering<ProviderAgent>("-created").Field("created", a => a.CreatedAt).Field("name", a => a.Name);
        if (!ordering.TryApply(selection.Value!.Agents, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        var result = new List<AgentDto>();
        foreach (var agent in page)
        {
            result.Add(await DtoAsync(agent, db, ctx, ct));
        }
        return TypedResults.Ok(result);
    }

    private static async Task<Results<Created<AgentDto>, ProblemHttpResult>> CreateAsync(
        AgentCreateRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await AgentOperations.CreateAsync(db, access, body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var dto = outcome.Value!.ToDto(null, [], ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        await AgentResultAsync(await AgentOperations.GetAsync(db, access, uuid, ct), db, ctx, ct);

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, AgentPatchRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        await AgentResultAsync(await AgentOperations.UpdateAsync(db, access, uuid, body, ct), db, ctx, ct);

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await AgentOperations.DeleteAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.NoContent() : outcome.ToProblemResult();
    }

    // ---- Analytics ----------------------------------------------------------------------

    private static async Task<Results<Ok<AgentAnalytics>, ProblemHttpResult>> AnalyticsAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await AgentAnalyticsOperations.TotalsAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(outcome.Value!) : outcome.ToProblemResult();
    }

    // ---- Offering state -----------------------------------------------------------------

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> PublishAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        await AgentResultAsync(await AgentStateOperations.PublishAsync(db, access, uuid, ct), db, ctx, ct);

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> PauseAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        await AgentResultAsync(await AgentStateOperations.PauseAsync(db, access, uuid, ct), db, ctx, ct);

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> ArchiveAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct) =>
        await AgentResultAsync(await AgentStateOperations.ArchiveAsync(db, access, uuid, ct), db, ctx, ct);
}
