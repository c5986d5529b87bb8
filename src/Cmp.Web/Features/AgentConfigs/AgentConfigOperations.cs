using System.Net;
using System.Text.RegularExpressions;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.AgentConfigs;

/// <summary>
/// A change to a config's persona, branding or widget settings; null leaves a field as it is. The API builds it
/// from the PATCH body, the console from its form.
/// </summary>
public sealed record ConfigPatch(
    string? AgentName = null, string? Greeting = null, string? SystemPrompt = null, string? Tone = null, string? PrimaryColor = null,
    string? SecondaryColor = null, string? AvatarUrl = null, string? Position = null, string? Theme = null, IReadOnlyList<string>? AllowedDomains = null)
{
    /// <summary>Set by the API's edge when <c>allowed_domains</c> was sent but is not a JSON list of strings.</summary>
    public bool AllowedDomainsMalformed { get; init; }
}

/// <summary>
/// The agent config rules, written once for the API (<see cref="AgentConfigEndpoints"/>) and the buyer console: who
/// sees a config (tenancy in the query: another organization's is not found), who may change it, and what a valid
/// persona, branding and widget setting is.
/// </summary>
internal static partial class AgentConfigOperations
{
    public static readonly string[] Tones = ["professional", "friendly", "casual", "formal", "enthusiastic"];
    public static readonly string[] Positions = ["bottom-right", "bottom-left"];
    public static readonly string[] Themes = ["light", "dark", "auto"];
    public const int MaxAllowedDomains = 50;

    /// <summary>The configs the user sees, with their resources, optionally only those whose agent name holds <paramref name="search"/>.</summary>
    public static IQueryable<CustomerAgentConfig> Query(CmpDbContext db, Access access, string? search = null)
    {
        var rows = AgentConfigQueries.Visible(db, access).AsNoTracking().Include(c => c.Resource).AsQueryable();
        if (search is not null)
        {
            var t = search.ToLowerInvariant();
            rows = rows.Where(c => c.AgentName.ToLower().Contains(t));
        }
        return rows;
    }

    public static async Task<Outcome<CustomerAgentConfig>> GetAsync(CmpDbContext db, Access access, string uuid, CancellationToken ct) =>
        await AgentConfigQueries.FindAsync(uuid, db, access, ct) is { } config ? config : Problems.NotFound("agent config");

    /// <summary>The config of a resource the user sees (the console's pages are addressed by resource).</summary>
    public static async Task<CustomerAgentConfig?> FindByResourceAsync(CmpDbContext db, Access access, Guid resourceId, CancellationToken ct) =>
        await AgentConfigQueries.Visible(db, access).AsNoTracking().Include(c => c.Resource).FirstOrDefaultAsync(c => c.ResourceId == resourceId, ct);

    /// <summary>Changing a config, creating and revoking its keys: a managing role in its project or organization.</summary>
    public static Task<bool> CanManageAsync(CustomerAgentConfig config, Access access, CancellationToken ct) =>
        access.HasProjectPermissionAsync(config.Resource.ProjectId, Permission.UpdateProject, ct);

    [GeneratedRegex("^#[0-9A-Fa-f]{6}$")]
    private static partial Regex Color();

    public static bool IsColor(string value) => Color().IsMatch(value);

    /// <summary>A host name, an IP address, <c>localhost</c>, or <c>*.</c> followed by a domain with a dot.</summary>
    public static bool IsDomainPattern(string value)
    {
        if (value.Length is 0 or > 253 || value.Contains("://", StringComparison.Ordinal) || value.Contains('/') || value.Contains(':') && !IPAddress.TryParse(value, out _))
        {
            return false;
        }
        if (IPAddress.TryParse(value, out _))
        {
            return true;
        }
        var host = value.StartsWith("*.", StringComparison.Ordinal) ? value[2..] : value;
        if (value.StartsWith("*.", StringComparison.Ordinal) && !host.Contains('.'))
        {
            return false;
        }
        return !host.Contains('*') && Uri.CheckHostName(host) == UriHostNameType.Dns;
    }

    /// <summary>What is wrong with an allowed domain as the user typed it (trimmed, lowercased as stored), or null.</summary>
    public static string? DomainProblem(string value)
    {
        var domain = value.Trim().ToLowerInvariant();
        return IsDomainPattern(domain) ? null : $"'{domain}' is not a host name, an IP address or a *.example.com pattern (no scheme, port or path).";
    }

    /// <summary>Applies a patch: not found, then forbidden, then every field problem at once; nothing changes unless all is valid.</summary>
    public static async Task<Outcome<CustomerAgentConfig>> UpdateAsync(CmpDbContext db, Access access, string uuid, ConfigPatch patch, CancellationToken ct)
    {
        var config = await AgentConfigQueries.FindAsync(uuid, db, access, ct);
        if (config is null)
        {
            return Problems.NotFound("agent config");
        }
        if (!await CanManageAsync(config, access, ct))
        {
            return Problems.Forbidden("Changing the agent config needs a managing role in its project or organization.");
        }
        var errors = new FieldErrors();
        // Names and greetings take any text (the widget shows them as text); lengths are what is checked.
        var name = patch.AgentName is null ? null : errors.Text("agent_name", patch.AgentName, 80, required: true);
        var greeting = patch.Greeting is null ? null : errors.Text("greeting", patch.Greeting, 500);
        var systemPrompt = patch.SystemPrompt is null ? null : errors.Text("system_prompt", patch.SystemPrompt, 8000);
        void OneOf(string field, string? value, string[] allowed)
        {
            if (value is not null && !allowed.Contains(value))
            {
                errors.Add(field, $"Choose one of: {string.Join(", ", allowed)}.");
            }
        }
        OneOf("tone", patch.Tone, Tones);
        OneOf("position", patch.Position, Positions);
        OneOf("theme", patch.Theme, Themes);
        if (patch.PrimaryColor is not null && !IsColor(patch.PrimaryColor))
        {
            errors.Add("primary_color", "Use a #RRGGBB colour.");
        }
        if (patch.SecondaryColor is not null && !IsColor(patch.SecondaryColor))
        {
            errors.Add("secondary_color", "Use a #RRGGBB colour.");
        }
        if (patch.AvatarUrl is { Length: > 0 } avatar
            && (avatar.Length > 2000 || !Uri.TryCreate(avatar, UriKind.Absolute, out var avatarUri) || avatarUri.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(avatarUri.UserInfo)))
        {
            errors.Add("avatar_url", "Use an https:// URL.");
        }
        List<string>? domains = null;
        if (patch.AllowedDomainsMalformed || patch.AllowedDomains is { Count: > MaxAllowedDomains })
        {
            errors.Add("allowed_domains", $"Give a list of at most {MaxAllowedDomains} host names.");
        }
        else if (patch.AllowedDomains is { } list)
        {
            domains = list.Select(d => d.Trim().ToLowerInvariant()).Distinct().ToList();
            foreach (var bad in domains.Select(DomainProblem).OfType<string>())
            {
                errors.Add("allowed_domains", bad);
            }
        }
        if (errors.Any)
        {
            return errors.ToProblem();
        }
        config.AgentName = name ?? config.AgentName;
        config.Greeting = greeting ?? config.Greeting;
        config.SystemPrompt = systemPrompt ?? config.SystemPrompt;
        config.Tone = patch.Tone ?? config.Tone;
        config.PrimaryColor = patch.PrimaryColor ?? config.PrimaryColor;
        config.SecondaryColor = patch.SecondaryColor ?? config.SecondaryColor;
        config.AvatarUrl = patch.AvatarUrl ?? config.AvatarUrl;
        config.Position = patch.Position ?? config.Position;
        config.Theme = patch.Theme ?? config.Theme;
        if (domains is not null)
        {
            config.AllowedDomains = string.Join('\n', domains);
        }
        await db.SaveChangesAsync(ct);
        return config;
    }
}
