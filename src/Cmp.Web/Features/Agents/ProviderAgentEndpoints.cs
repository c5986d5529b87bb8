using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cmp.Flows.Checks;
using Cmp.Flows.Documents;
using Cmp.Flows.Graph;
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

    // ---- Flows --------------------------------------------------------------------------

    /// <summary>The export from a JSON body or a multipart <c>file</c>; null with a problem when neither is usable.</summary>
    private static async Task<(byte[]? Bytes, ProblemHttpResult? Problem)> ReadExportAsync(HttpRequest request, CancellationToken ct)
    {
        var limit = FlowParser.MaxBytes;
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(ct);
            var file = form.Files["file"];
            if (file is null)
            {
                return (null, Problems.Validation("file", "Send the Langflow export as the multipart field 'file', or as a JSON body."));
            }
            if (file.Length > limit)
            {
                return (null, InvalidFlow([new FlowProblem(null, null, $"The export is {file.Length / 1024 / 1024.0:0.0} MB; the limit is 5 MB.")]));
            }
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, ct);
            return (buffer.ToArray(), null);
        }
        using var body = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            body.Write(chunk, 0, read);
            if (body.Length > limit)
            {
                return (null, InvalidFlow([new FlowProblem(null, null, "The export is larger than 5 MB, the limit.")]));
            }
        }
        return body.Length == 0
            ? (null, Problems.Validation("file", "The request has no Langflow export: send it as a JSON body or the multipart field 'file'."))
            : (body.ToArray(), null);
    }

    internal sealed record ProblemItem(string? NodeId, string? Component, string Message);

    private static ProblemHttpResult InvalidFlow(IReadOnlyList<FlowProblem> problems)
    {
        var details = new ProblemDetails
        {
            Status = 400,
            Type = ProblemTypes.InvalidFlow,
            Title = "The flow cannot run on CMP.",
            Detail = $"{problems.Count} problem{(problems.Count == 1 ? "" : "s")}: " + string.Join(" ", problems.Select(p => p.NodeId is null ? p.Message : $"{p.NodeId} ({p.Component}): {p.Message}")),
        };
        details.Extensions["problems"] = problems.Select(p => new ProblemItem(p.NodeId, p.Component, p.Message)).ToList();
        return TypedResults.Problem(details);
    }

    private static object SummaryJson(FlowSummary s) => new
    {
        nodes = s.Nodes,
        edges = s.Edges,
        components = s.Components,
        inputs = s.Inputs.Select(p => new { node_id = p.NodeId, component = p.Component }),
        outputs = s.Outputs.Select(p => new { node_id = p.NodeId, component = p.Component }),
        prompt_variables = s.PromptVariables,
        variables = s.Variables,
        file_nodes = s.FileNodes,
    };

    private static async Task<Results<Ok<object>, ProblemHttpResult>> ValidateFlowAsync(
        string uuid, HttpRequest request, CmpDbContext db, Access access, FlowRuntime runtime, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var (bytes, problem) = await ReadExportAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        var report = FlowChecker.Check(bytes!);
        return report.Runnable
            ? TypedResults.Ok<object>(new { runnable = true, summary = SummaryJson(FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel)) })
            : InvalidFlow(report.Problems);
    }

    private static async Task<Results<Created<ImportResponse>, ProblemHttpResult>> ImportFlowAsync(
        string uuid, HttpRequest request, HttpContext ctx, CmpDbContext db, Access access, FlowRuntime runtime, DeploymentQueue queue, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        if (agent.State == OfferingState.Archived)
        {
            return Problems.Conflict("An archived agent takes no new flow versions.", ProblemTypes.InvalidTransition);
        }
        var (bytes, problem) = await ReadExportAsync(request, ct);
        if (problem is not null)
        {
            return problem;
        }
        var report = FlowChecker.Check(bytes!);
        if (!report.Runnable)
        {
            return InvalidFlow(report.Problems);
        }
        var summary = FlowSummary.Of(report.Graph!, runtime.Options.DefaultModel);
        var previous = agent.CurrentFlowVersionId;
        var number = await db.FlowVersions.Where(v => v.AgentId == agent.Id).MaxAsync(v => (int?)v.Number, ct) ?? 0;
        var version = new FlowVersion
        {
            AgentId = agent.Id,
            Number = number + 1,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes!)),
            Json = System.Text.Encoding.UTF8.GetString(bytes!),
            Summary = JsonSerializer.Serialize(SummaryJson(summary)),
            CreatedById = access.UserId,
        };
        db.FlowVersions.Add(version);
        // Files for File nodes that the new version still has come along; the old version keeps its own.
        if (previous is { } previousId && summary.FileNodes.Count > 0)
        {
            var carried = await db.AgentFiles.AsNoTracking().Where(f => f.FlowVersionId == previousId && summary.FileNodes.Contains(f.NodeId)).ToListAsync(ct);
            foreach (var f in carried)
            {
                db.AgentFiles.Add(new AgentFile { AgentId = agent.Id, FlowVersionId = version.Id, NodeId = f.NodeId, FileName = f.FileName, ContentType = f.ContentType, Size = f.Size, Content = f.Content });
            }
        }
        agent.CurrentFlowVersionId = version.Id;
        DeploymentQueue.MarkDeploying(agent);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict("Another import of this agent finished at the same time; try again.");
        }
        queue.Enqueue(agent.Id);
        var dto = await DtoAsync(agent, db, ctx, ct);
        return TypedResults.Created(dto.Url, new ImportResponse(dto, version.ToDto(), SummaryJson(summary)));
    }

    // ---- Files --------------------------------------------------------------------------

    private static async Task<Results<Ok<List<AgentFileDto>>, ProblemHttpResult>> ListFilesAsync(string uuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var agent = await FindAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return Problems.NotFound("agent");
        }
        var files = await db.AgentFiles.AsNoTracking().Where(f => f.AgentId == agent.Id)
            .Join(db.FlowVersions, f => f.FlowVersionId, v => v.Id, (f, v) => new { f.Id, f.NodeId, f.FileName, f.ContentType, f.Size, v.Number, f.CreatedAt })
            .OrderByDescending(f => f.Number).ThenBy(f => f.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok(files.Select(f => new AgentFileDto(f.Id.Hex(), f.NodeId, f.FileName, f.ContentType, f.Size, f.Number, f.CreatedAt)).ToList());
    }

    private static async Task<Results<Created<AgentFileDto>, ProblemHttpResult>> UploadFileAsync(
        string uuid, HttpRequest request, CmpDbContext db, Access access, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        if (!request.HasFormContentType)
        {
            return Problems.Validation("file", "Send multipart/form-data with the fields node_id and file.");
        }
        var form = await request.ReadFormAsync(ct);
        var errors = new FieldErrors();
        var nodeId = form["node_id"].ToString();
        var file = form.Files["file"];
        if (agent.CurrentFlowVersionId is not { } versionId)
        {
            return Problems.Conflict("Import a flow first: files belong to its File nodes.");
        }
        var version = await db.FlowVersions.AsNoTracking().FirstAsync(v => v.Id == versionId, ct);
        var fileNodes = JsonSerializer.Deserialize<JsonElement>(version.Summary).GetProperty("file_nodes").EnumerateArray().Select(e => e.GetString()).ToList();
        if (string.IsNullOrWhiteSpace(nodeId))
        {
            errors.Add("node_id", "This field is required.");
        }
        else if (!fileNodes.Contains(nodeId))
        {
            errors.Add("node_id", fileNodes.Count == 0
                ? "The current flow version has no File node."
                : $"Not a File node of the current flow version; File nodes: {string.Join(", ", fileNodes)}.");
        }
        if (file is null || file.Length == 0)
        {
            errors.Add("file", "This field is required.");
        }
        else if (file.Length > MaxFileBytes)
        {
            errors.Add("file", "The file is larger than 10 MB.");
        }
        else if (!DocumentText.SupportedExtensions.Contains(Path.GetExtension(file.FileName)))
        {
            errors.Add("file", $"Unsupported file type; use one of {string.Join(", ", DocumentText.SupportedExtensions.Order())}.");
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        using var buffer = new MemoryStream();
        await file!.CopyToAsync(buffer, ct);
        var content = buffer.ToArray();
        var fileName = Path.GetFileName(file.FileName);
        if (!DocumentText.LooksLike(fileName, content))
        {
            return Problems.Validation("file", $"The content of '{fileName}' does not match its extension.");
        }
        var row = new AgentFile
        {
            AgentId = agent.Id,
            FlowVersionId = versionId,
            NodeId = nodeId,
            FileName = fileName.Length > 255 ? fileName[^255..] : fileName,
            ContentType = string.IsNullOrEmpty(file.ContentType) ? "application/octet-stream" : file.ContentType[..Math.Min(100, file.ContentType.Length)],
            Size = content.Length,
            Content = content,
        };
        db.AgentFiles.Add(row);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/provider-agents/{agent.Id:N}/files/", new AgentFileDto(row.Id.Hex(), row.NodeId, row.FileName, row.ContentType, row.Size, version.Number, row.CreatedAt));
    }

    // ---- Secrets ------------------------------------------------------------------------

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
    private static partial Regex VariableName();

    private static async Task<SecretsDto> SecretsStateAsync(ProviderAgent agent, CmpDbContext db, AgentSecrets secrets, FlowRuntime runtime, CancellationToken ct)
    {
        var set = await secrets.NamesAsync(agent.Id, ct);
        var required = new List<string>();
        if (agent.CurrentFlowVersionId is { } versionId)
        {
            var summary = JsonSerializer.Deserialize<JsonElement>(await db.FlowVersions.Where(v => v.Id == versionId).Select(v => v.Summary).FirstAsync(ct));
            required = summary.GetProperty("variables").EnumerateArray().Select(e => e.GetString()!).ToList();
        }
        return new SecretsDto(set, required, required.Except(set).ToList());
    }

    private static async Task<Results<Ok<SecretsDto>, ProblemHttpResult>> GetSecretsAsync(
        string uuid, CmpDbContext db, Access access, AgentSecrets secrets, FlowRuntime runtime, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        return TypedResults.Ok(await SecretsStateAsync(agent, db, secrets, runtime, ct));
    }

    private static async Task<Results<Ok<SecretsDto>, ProblemHttpResult>> PutSecretsAsync(
        string uuid, Dictionary<string, JsonElement> body, CmpDbContext db, Access access, AgentSecrets secrets, FlowRuntime runtime,
        DeploymentQueue queue, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var errors = new FieldErrors();
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (body.Count is 0 or > 50)
        {
            errors.Add("non_field_errors", "Send between 1 and 50 variables as {\"NAME\": \"value\"}.");
        }
        foreach (var (name, value) in body)
        {
            if (!VariableName().IsMatch(name))
            {
                errors.Add(name, "A variable name is letters, digits and underscores, not starting with a digit, at most 100 characters.");
            }
            else if (value.ValueKind == JsonValueKind.Null)
            {
                values[name] = null;
            }
            else if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 and <= 10000 } text)
            {
                errors.Add(name, "The value must be a non-empty string of at most 10000 characters (null removes the variable).");
            }
            else
            {
                values[name] = text;
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        await secrets.WriteAsync(agent.Id, values, ct);
        var redeploy = agent.CurrentFlowVersionId is not null && agent.State != OfferingState.Archived;
        if (redeploy)
        {
            DeploymentQueue.MarkDeploying(agent);
        }
        await db.SaveChangesAsync(ct);
        if (redeploy)
        {
            queue.Enqueue(agent.Id);
        }
        return TypedResults.Ok(await SecretsStateAsync(agent, db, secrets, runtime, ct));
    }

    // ---- Test chat ----------------------------------------------------------------------

    private static async Task<Results<Ok<InvokeResponse>, ProblemHttpResult>> TestInvokeAsync(
        string uuid, TestInvokeRequest body, CmpDbContext db, Access access, AgentSecrets secrets, IAgentRuntime runtime, CancellationToken ct)
    {
        var (agent, refused) = await FindManagedAsync(uuid, db, access, ct);
        if (agent is null)
        {
            return refused!;
        }
        var errors = new FieldErrors();
        var input = errors.Text("input", body.Input, 10000, required: true);
        var session = errors.Text("session_id", body.SessionId, 200);
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        if (agent.RuntimeState != RuntimeState.Ready || agent.CurrentFlowVersionId is not { } versionId)
        {
            return Problems.Conflict($"The agent's runtime is {agent.RuntimeState.Screaming()}, not READY{(agent.RuntimeError is null ? "" : ": " + agent.RuntimeError)}.", ProblemTypes.RuntimeNotReady);
        }
        var version = await db.FlowVersions.AsNoTracking().FirstAsync(v => v.Id == versionId, ct);
        var sessionId = string.IsNullOrEmpty(session) ? Guid.NewGuid().ToString("N") : session;
        var memory = new DbConversationMemory(db, "test:" + agent.Id.ToString("N"));
        var files = await FilesAsync(db, versionId, ct);
        var context = new AgentVersionContext(agent.Id, versionId, version.Json, version.RemoteFlowId, await secrets.ReadAsync(agent.Id, ct));
        try
        {
            FlowRunResult? result = null;
            await foreach (var e in runtime.InvokeAsync(context, new InvokeRequest(input!, sessionId, memory, files, null), ct))
            {
                if (e is FlowCompletedEvent done)
                {
                    result = done.Result;
                }
            }
            await memory.AppendAsync(sessionId, result!.NewMessages, ct);
            await db.SaveChangesAsync(ct);
            return TypedResults.Ok(new InvokeResponse(result.Output, sessionId, Guid.CreateVersion7().ToString("N"),
                new UsageDto(result.Usage.InputTokens, result.Usage.OutputTokens, (long)result.Elapsed.TotalMilliseconds)));
        }
        catch (FlowRunException ex)
        {
            var problem = new ProblemDetails { Status = 422, Type = ProblemTypes.RunFailed, Title = "The agent could not answer.", Detail = ex.Message };
            problem.Extensions["node_id"] = ex.NodeId;
            problem.Extensions["component"] = ex.Component;
            return TypedResults.Problem(problem);
        }
    }

    internal static async Task<IFlowFileProvider> FilesAsync(CmpDbContext db, Guid versionId, CancellationToken ct)
    {
        var files = await db.AgentFiles.AsNoTracking().Where(f => f.FlowVersionId == versionId).OrderBy(f => f.CreatedAt).ToListAsync(ct);
        return new DictionaryFileProvider(files.GroupBy(f => f.NodeId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<FlowFile>)g.Select(f => new FlowFile(f.FileName, f.Content)).ToList()));
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
