using System.Text.Json;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cmp.Web.Features.AgentConfigs;

public sealed record ConfigPatchRequest(
    string? AgentName, string? Greeting, string? SystemPrompt, string? Tone, string? PrimaryColor, string? SecondaryColor,
    string? AvatarUrl, string? Position, string? Theme, JsonElement? AllowedDomains);
public sealed record ConfigDto(
    string Uuid, string Url, string ResourceUuid, string ResourceState, string AgentName, string Greeting, string SystemPrompt, string Tone,
    string PrimaryColor, string SecondaryColor, string AvatarUrl, string Position, string Theme, IReadOnlyList<string> AllowedDomains, DateTime Created);
public sealed record ApiKeyRequest(string? Name, string? Kind, DateTime? ExpiresAt);
public sealed record ApiKeyDto(string Uuid, string Name, string Kind, string Prefix, string Last4, DateTime? ExpiresAt, DateTime? LastUsedAt, DateTime? RevokedAt, DateTime Created);
public sealed record NewApiKeyDto(string Uuid, string Name, string Kind, string Key, string Prefix, string Last4, DateTime? ExpiresAt, DateTime Created);

/// <summary>
/// <c>/api/customer-agent-configs</c>: a buyer's configs and keys. The handlers bind HTTP and map outcomes; the rules
/// are <see cref="AgentConfigOperations"/> and <see cref="ApiKeyOperations"/>, which the buyer console calls too.
/// </summary>
public static class AgentConfigEndpoints
{
    public static IEndpointRouteBuilder MapAgentConfigEndpoints(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/customer-agent-configs").WithTags("Agent configs").RequireAuthorization();
        g.MapGet("/", ListAsync).WithName("ListAgentConfigs");
        g.MapGet("/{uuid}/", GetAsync).WithName("GetAgentConfig");
        g.MapPatch("/{uuid}/", UpdateAsync).WithName("UpdateAgentConfig");
        g.MapGet("/{uuid}/api_keys/", ListKeysAsync).WithName("ListApiKeys");
        g.MapPost("/{uuid}/api_keys/", CreateKeyAsync).WithName("CreateApiKey");
        g.MapDelete("/{uuid}/api_keys/{keyUuid}/", RevokeKeyAsync).WithName("RevokeApiKey");
        g.MapUsageEndpoints(); // /{uuid}/usage/: the Billing feature's
        return app;
    }

    private static ConfigDto ToDto(CustomerAgentConfig c, HttpContext ctx) => new(
        c.Id.Hex(), Refs.Url(ctx, "customer-agent-configs", c.Id), c.ResourceId.Hex(), c.Resource.State.Screaming(), c.AgentName, c.Greeting, c.SystemPrompt,
        c.Tone, c.PrimaryColor, c.SecondaryColor, c.AvatarUrl, c.Position, c.Theme, c.AllowedDomainList, c.CreatedAt);

    private static async Task<Results<Ok<List<ConfigDto>>, ProblemHttpResult>> ListAsync(ListQuery query, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var rows = AgentConfigOperations.Query(db, access, query.Search);
        var ordering = new Ordering<CustomerAgentConfig>("-created").Field("created", c => c.CreatedAt).Field("agent_name", c => c.AgentName).Tiebreak(c => c.Id);
        if (!ordering.TryApply(rows, query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var page = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(page.Select(c => ToDto(c, ctx)).ToList());
    }

    private static async Task<Results<Ok<ConfigDto>, ProblemHttpResult>> GetAsync(string uuid, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await AgentConfigOperations.GetAsync(db, access, uuid, ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }

    /// <summary>The PATCH body as a patch: <c>allowed_domains</c> must be a JSON list of strings (its shape is checked here, its rules in the operation).</summary>
    private static ConfigPatch ToPatch(ConfigPatchRequest body)
    {
        IReadOnlyList<string>? domains = null;
        var malformed = false;
        if (body.AllowedDomains is { } raw)
        {
            malformed = raw.ValueKind != JsonValueKind.Array || raw.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String);
            domains = malformed ? null : raw.EnumerateArray().Select(e => e.GetString()!).ToList();
        }
        var patch = new ConfigPatch(body.AgentName, body.Greeting, body.SystemPrompt, body.Tone, body.PrimaryColor, body.SecondaryColor, body.AvatarUrl,
            body.Position, body.Theme, domains);
        return patch with { AllowedDomainsMalformed = malformed };
    }

    private static async Task<Results<Ok<ConfigDto>, ProblemHttpResult>> UpdateAsync(
        string uuid, ConfigPatchRequest body, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await AgentConfigOperations.UpdateAsync(db, access, uuid, ToPatch(body), ct);
        return outcome.Ok ? TypedResults.Ok(ToDto(outcome.Value!, ctx)) : outcome.ToProblemResult();
    }

    // ---- API keys -----------------------------------------------------------------------

    private static ApiKeyDto ToDto(ApiKey k) =>
        new(k.Id.Hex(), k.Name, ApiKeyOperations.WireName(k.Kind), k.Prefix, k.Last4, k.ExpiresAt, k.LastUsedAt, k.RevokedAt, k.CreatedAt);

    private static async Task<Results<Ok<List<ApiKeyDto>>, ProblemHttpResult>> ListKeysAsync(
        string uuid, ListQuery query, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        if (query.Error is not null)
        {
            return query.Error;
        }
        var config = await AgentConfigOperations.GetAsync(db, access, uuid, ct);
        if (!config.Ok)
        {
            return config.ToProblemResult();
        }
        var ordering = new Ordering<ApiKey>("-created").Field("created", k => k.CreatedAt).Field("name", k => k.Name).Field("last_used_at", k => k.LastUsedAt)
            .Tiebreak(k => k.Id);
        if (!ordering.TryApply(ApiKeyOperations.Of(db, config.Value!), query.Ordering, out var ordered, out var problem))
        {
            return problem!;
        }
        var keys = await ordered.ToPageAsync(query, ctx, ct);
        return TypedResults.Ok(keys.Select(ToDto).ToList());
    }

    private static async Task<Results<Created<NewApiKeyDto>, ProblemHttpResult>> CreateKeyAsync(
        string uuid, ApiKeyRequest body, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await ApiKeyOperations.CreateAsync(db, access, uuid, body, ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        var (row, key) = outcome.Value!;
        return TypedResults.Created($"/api/customer-agent-configs/{row.ConfigId:N}/api_keys/",
            new NewApiKeyDto(row.Id.Hex(), row.Name, ApiKeyOperations.WireName(row.Kind), key, row.Prefix, row.Last4, row.ExpiresAt, row.CreatedAt));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(string uuid, string keyUuid, CmpDbContext db, Access access, CancellationToken ct)
    {
        var outcome = await ApiKeyOperations.RevokeAsync(db, access, uuid, keyUuid, ct);
        return outcome.Ok ? TypedResults.NoContent() : outcome.ToProblemResult();
    }
}
