using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Http;

namespace Cmp.Web.Features.Agents;

public sealed record AgentCreateRequest(string? ServiceProvider, string? Name, string? Description, string? Category, bool? RequiresProviderApproval);
public sealed record AgentPatchRequest(string? Name, string? Description, string? Category, bool? RequiresProviderApproval);
public sealed record FlowVersionDto(string Uuid, int Number, string Sha256, DateTime Created, string CreatedByUuid);
public sealed record AgentDto(
    string Uuid, string Url, string Name, string Description, string Category, string State, string RuntimeState, string? RuntimeError,
    FlowVersionDto? FlowVersion, bool RequiresProviderApproval, string ServiceProvider, string ServiceProviderUuid, string OfferingUuid,
    IReadOnlyList<PlanDto> Plans, DateTime Created);
public sealed record ImportResponse(AgentDto Agent, FlowVersionDto FlowVersion, object Summary);
public sealed record SecretsDto(IReadOnlyList<string> Set, IReadOnlyList<string> Required, IReadOnlyList<string> Missing);
public sealed record AgentFileDto(string Uuid, string NodeId, string FileName, string ContentType, long Size, int FlowVersion, DateTime Created);
public sealed record TestInvokeRequest(string? Input, string? SessionId);
public sealed record UsageDto(long InputTokens, long OutputTokens, long ElapsedMs);
public sealed record InvokeResponse(string Output, string SessionId, string RequestId, UsageDto Usage);

internal static class AgentMapping
{
    public static FlowVersionDto ToDto(this FlowVersion v) => new(v.Id.Hex(), v.Number, v.Sha256, v.CreatedAt, v.CreatedById.Hex());

    public static AgentDto ToDto(this ProviderAgent a, FlowVersion? version, IEnumerable<Plan> plans, HttpContext ctx) => new(
        a.Id.Hex(), Refs.Url(ctx, "provider-agents", a.Id), a.Name, a.Description, a.Category.ToString(), a.State.Screaming(),
        a.RuntimeState.Screaming(), a.RuntimeError, version?.ToDto(), a.RequiresProviderApproval,
        Refs.Url(ctx, "marketplace-service-providers", a.ServiceProviderId), a.ServiceProviderId.Hex(), a.OfferingId.Hex(),
        plans.OrderBy(p => p.CreatedAt).Select(p => p.ToDto()).ToList(), a.CreatedAt);
}
