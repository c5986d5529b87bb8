using Cmp.Flows.Runtime;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Providers;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Polly;

namespace Cmp.Web.Features.Agents;

public static partial class ProviderAgentEndpoints
{
    public const long MaxFileBytes = 10 * 1024 * 1024;

    public static IServiceCollection AddAgents(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(_ => new FlowRuntime(new FlowRuntimeOptions
        {
            LlmMode = configuration["CMP_LLM"] is { Length: > 0 } mode ? mode : "dev",
            OpenAiBaseUrl = configuration["OPENAI_BASE_URL"] is { Length: > 0 } url ? url : null,
            AllowPrivateNetworks = configuration.GetValue("Flows:AllowPrivateNetworks", false),
            TimeBudget = TimeSpan.FromSeconds(configuration.GetValue("Flows:TimeBudgetSeconds", 120.0)),
        }));
        services.AddSingleton<BuiltinAgentRuntime>();
        if (configuration["LANGFLOW_URL"] is { Length: > 0 } langflow)
        {
            // Remote runtime: resilient HTTP (timeout + circuit breaker), and no retries: a run is not idempotent.
            services.AddHttpClient(RemoteLangflowRuntime.HttpClientName, c =>
            {
                c.BaseAddress = new Uri(langflow.TrimEnd('/') + "/");
                c.Timeout = Timeout.InfiniteTimeSpan;
                if (configuration["LANGFLOW_API_KEY"] is { Length: > 0 } key)
                {
                    c.DefaultRequestHeaders.Add("x-api-key", key);
                }
            }).AddResilienceHandler("langflow", b =>
            {
                b.AddTimeout(TimeSpan.FromSeconds(configuration.GetValue("Langflow:TimeoutSeconds", 120.0)));
                b.AddCircuitBreaker(new Microsoft.Extensions.Http.Resilience.HttpCircuitBreakerStrategyOptions
                {
                    FailureRatio = 0.5,
                    MinimumThroughput = 5,
                    SamplingDuration = TimeSpan.FromSeconds(30),
                    BreakDuration = TimeSpan.FromSeconds(15),
                });
            });
            services.AddSingleton<IAgentRuntime>(sp => new RemoteLangflowRuntime(
                sp.GetRequiredService<IHttpClientFactory>().CreateClient(RemoteLangflowRuntime.HttpClientName),
                sp.GetRequiredService<IServiceScopeFactory>(),
                sp.GetRequiredService<ILogger<RemoteLangflowRuntime>>()));
        }
        else
        {
            services.AddSingleton<IAgentRuntime>(sp => sp.GetRequiredService<BuiltinAgentRuntime>());
        }
        services.AddSingleton<DeploymentQueue>();
        services.AddHostedService<DeploymentWorker>();
        services.AddScoped<AgentSecrets>();
        return services;
    }

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

    // ---- Access (AgentQueries) ---------------------------------------------------------

    private static IQueryable<ProviderAgent> Visible(CmpDbContext db, Access access) => AgentQueries.Visible(db, access);

    private static Task<ProviderAgent?> FindAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) => AgentQueries.FindAsync(uuid, db, access, ct);

    private static Task<bool> CanManageAsync(ProviderAgent agent, Access access, CancellationToken ct) => AgentQueries.CanManageAsync(agent, access, ct);

    private static Task<(ProviderAgent? Agent, ProblemHttpResult? Problem)> FindManagedAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct) =>
        AgentQueries.FindManagedAsync(uuid, db, access, ct);

    private static ProblemHttpResult CannotManage() => AgentQueries.CannotManage();

    private static async Task<AgentDto> DtoAsync(ProviderAgent agent, CmpDbContext db, HttpContext ctx, CancellationToken ct)
    {
        var version = agent.CurrentFlowVersionId is { } v ? await db.FlowVersions.AsNoTracking().FirstOrDefaultAsync(x => x.Id == v, ct) : null;
        var plans = await db.Plans.AsNoTracking().Include(p => p.Components).Where(p => p.AgentId == agent.Id).ToListAsync(ct);
        return agent.ToDto(version, plans, ctx);
    }

    // ---- CRUD ---------------------------------------------------------------------------

    private static async Task<Results<Ok<List<AgentDto>>, ProblemHttpResult>> ListAsync(
        ListQuery query, string? service_provider_uuid, string? state, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var agents = Visible(db, access).AsNoTracking();
        if (service_provider_uuid is not null)
        {
            if (!Refs.TryParse(service_provider_uuid, out var pid))
            {
                return Problems.Validation("service_provider_uuid", "Enter a valid uuid.");
            }
            agents = agents.Where(a => a.ServiceProviderId == pid);
        }
        if (state is not null)
        {
            if (!WireNames.TryParseScreaming<OfferingState>(state, out var parsed))
            {
                return Problems.Validation("state", "Choose one of: DRAFT, ACTIVE, PAUSED, ARCHIVED.");
            }
            agents = agents.Where(a => a.State == parsed);
        }
        if (query.Search is { } term)
        {
            var t = term.ToLowerInvariant();
            agents = agents.Where(a => a.Name.ToLower().Contains(t) || a.Description.ToLower().Contains(t));
        }
        var ordering = new Ordering<ProviderAgent>("-created").Field("created", a => a.CreatedAt).Field("name", a => a.Name);
        if (!ordering.TryApply(agents, query.Ordering, out var ordered, out var problem))
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

    private static AgentCategory? ParseCategory(string? value, FieldErrors errors, bool required)
    {
        if (value is null)
        {
            if (required)
            {
                errors.Add("category", "This field is required.");
            }
            return null;
        }
        var name = Enum.GetNames<AgentCategory>().FirstOrDefault(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase));
        if (name is null)
        {
            errors.Add("category", "Choose one of: Agents, Apps, Assistants, Automations.");
            return null;
        }
        return Enum.Parse<AgentCategory>(name);
    }

    private static async Task<Results<Created<AgentDto>, ProblemHttpResult>> CreateAsync(
        AgentCreateRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: true);
        var description = errors.Text("description", body.Description, 4000);
        var category = ParseCategory(body.Category, errors, required: true);
        MarketplaceProvider? provider = null;
        if (string.IsNullOrWhiteSpace(body.ServiceProvider))
        {
            errors.Add("service_provider", "This field is required.");
        }
        else
        {
            provider = Refs.TryParse(body.ServiceProvider, out var pid)
                ? await ProviderEndpoints.Visible(db, access).FirstOrDefaultAsync(p => p.Id == pid, ct)
                : null;
            if (provider is null)
            {
                errors.Add("service_provider", "No service provider with this uuid is visible to you.");
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (!await access.HasCustomerPermissionAsync(provider!.CustomerId, Permission.ManageOfferings, ct))
        {
            return CannotManage();
        }
        var agent = new ProviderAgent
        {
            ServiceProviderId = provider.Id,
            Name = name!,
            Description = description ?? "",
            Category = category!.Value,
            RequiresProviderApproval = body.RequiresProviderApproval ?? false,
        };
        db.ProviderAgents.Add(agent);
        await db.SaveChangesAsync(ct);
        var dto = agent.ToDto(null, [], ctx);
        return TypedResults.Created(dto.Url, dto);
    }

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        return agent is null ? Problems.NotFound("agent") : TypedResults.Ok(await DtoAsync(agent, db, ctx, ct));
    }

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, AgentPatchRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 150, required: body.Name is not null);
        var description = errors.Text("description", body.Description, 4000);
        var category = ParseCategory(body.Category, errors, required: false);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent cannot change.", ProblemTypes.InvalidTransition);
        }
        agent.Name = name ?? agent.Name;
        agent.Description = description ?? agent.Description;
        agent.Category = category ?? agent.Category;
        agent.RequiresProviderApproval = body.RequiresProviderApproval ?? agent.RequiresProviderApproval;
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(await DtoAsync(agent, db, ctx, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        // Only a draft that never took an order may vanish; anything else is archived instead.
        var deleted = await db.ProviderAgents.Where(a => a.Id == agent.Id && a.State == OfferingState.Draft).ExecuteDeleteAsync(ct);
        return deleted == 1
            ? TypedResults.NoContent()
            : Problems.Conflict($"Only a DRAFT agent can be deleted; this one is {agent.State.Screaming()}. Archive it instead.", ProblemTypes.InvalidTransition);
    }

    // ---- Analytics ----------------------------------------------------------------------

    public sealed record AgentAnalytics(int Orders, IReadOnlyDictionary<string, int> OrdersByState, int ActiveBuyers, int ActiveResources, long Invocations, long InputTokens, long OutputTokens);

    /// <summary>Counts from the orders, resources and usage records of this agent (all real rows, nothing estimated).</summary>
    private static async Task<Results<Ok<AgentAnalytics>, ProblemHttpResult>> AnalyticsAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        var byState = await db.Orders.Where(o => o.AgentId == agent.Id).GroupBy(o => o.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        var active = db.Resources.Where(r => r.AgentId == agent.Id && r.State == Orders.ResourceState.Ok);
        var resourceIds = db.Resources.Where(r => r.AgentId == agent.Id).Select(r => r.Id);
        var usage = db.UsageRecords.Where(u => resourceIds.Contains(u.ResourceId));
        return TypedResults.Ok(new AgentAnalytics(
            byState.Sum(s => s.Count),
            byState.ToDictionary(s => s.Key.Screaming(), s => s.Count),
            await active.Select(r => r.CustomerId).Distinct().CountAsync(ct),
            await active.CountAsync(ct),
            await usage.CountAsync(ct),
            await usage.SumAsync(u => (long?)u.InputTokens, ct) ?? 0,
            await usage.SumAsync(u => (long?)u.OutputTokens, ct) ?? 0));
    }

    // ---- Offering state -----------------------------------------------------------------

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> PublishAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        if (agent.State is not (OfferingState.Draft or OfferingState.Paused))
        {
            return Problems.Conflict($"Only a DRAFT or PAUSED agent can be published; this one is {agent.State.Screaming()}.", ProblemTypes.InvalidTransition);
        }
        var missing = new List<string>();
        if (agent.ServiceProvider.State != ServiceProviderState.Active)
        {
            missing.Add("the service provider is pending staff approval");
        }
        if (agent.RuntimeState != RuntimeState.Ready)
        {
            missing.Add($"a READY runtime (it is {agent.RuntimeState.Screaming()}{(agent.RuntimeError is null ? "" : ": " + agent.RuntimeError)})");
        }
        if (!await db.Plans.AnyAsync(p => p.AgentId == agent.Id && p.ArchivedAt == null, ct))
        {
            missing.Add("at least one plan");
        }
        if (missing.Count > 0)
        {
            var problem = new ProblemDetails
            {
                Status = 409,
                Type = agent.ServiceProvider.State != ServiceProviderState.Active ? ProblemTypes.ProviderPending : ProblemTypes.PublishRequirements,
                Title = "The agent cannot be published yet.",
                Detail = "Publishing needs " + string.Join(", and ", missing) + ".",
            };
            problem.Extensions["missing"] = missing;
            return TypedResults.Problem(problem);
        }
        return await MoveAsync(agent, [OfferingState.Draft, OfferingState.Paused], OfferingState.Active, db, ctx, ct, requireReady: true);
    }

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> PauseAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        return !await CanManageAsync(agent, access, ct) ? CannotManage() : await MoveAsync(agent, [OfferingState.Active], OfferingState.Paused, db, ctx, ct);
    }

    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> ArchiveAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        return !await CanManageAsync(agent, access, ct)
            ? CannotManage()
            : await MoveAsync(agent, [OfferingState.Draft, OfferingState.Active, OfferingState.Paused], OfferingState.Archived, db, ctx, ct);
    }

    /// <summary>A guarded transition: one UPDATE whose WHERE names the allowed states; no row changed is a 409, never ignored.</summary>
    private static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> MoveAsync(
        ProviderAgent agent, OfferingState[] from, OfferingState to, CmpDbContext db, HttpContext ctx, CancellationToken ct, bool requireReady = false)
    {
        var moved = await db.ProviderAgents
            .Where(a => a.Id == agent.Id && from.Contains(a.State) && (!requireReady || a.RuntimeState == RuntimeState.Ready))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.State, to).SetProperty(a => a.Version, Guid.NewGuid()), ct);
        if (moved != 1)
        {
            var now = await db.ProviderAgents.Where(a => a.Id == agent.Id).Select(a => a.State).FirstAsync(ct);
            return Problems.Conflict(
                $"Cannot move the agent from {now.Screaming()} to {to.Screaming()}; allowed from {string.Join(" or ", from.Select(f => f.Screaming()))}.",
                ProblemTypes.InvalidTransition);
        }
        await db.Entry(agent).ReloadAsync(ct);
        return TypedResults.Ok(await DtoAsync(agent, db, ctx, ct));
    }
}
