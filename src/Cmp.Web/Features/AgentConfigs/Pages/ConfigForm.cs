namespace Cmp.Web.Features.AgentConfigs.Pages;

/// <summary>
/// The console's unsaved copy of a config: the Persona &amp; branding and Widget tabs edit it, the live preview shows
/// it, and each tab saves its own fields through <see cref="AgentConfigOperations.UpdateAsync"/>.
/// </summary>
public sealed class ConfigForm
{
    public string AgentName { get; set; } = "";
    public string Greeting { get; set; } = "";
    public string SystemPrompt { get; set; } = "";
    public string Tone { get; set; } = "professional";
    public string PrimaryColor { get; set; } = "#1f6feb";
    public string SecondaryColor { get; set; } = "#ffffff";
    public string AvatarUrl { get; set; } = "";
    public string Position { get; set; } = "bottom-right";
    public string Theme { get; set; } = "auto";
    public List<string> AllowedDomains { get; set; } = [];

    public static ConfigForm From(CustomerAgentConfig c) => new()
    {
        AgentName = c.AgentName,
        Greeting = c.Greeting,
        SystemPrompt = c.SystemPrompt,
        Tone = c.Tone,
        PrimaryColor = c.PrimaryColor,
        SecondaryColor = c.SecondaryColor,
        AvatarUrl = c.AvatarUrl,
        Position = c.Position,
        Theme = c.Theme,
        AllowedDomains = [.. c.AllowedDomainList],
    };

    public ConfigPatch PersonaPatch() => new(AgentName, Greeting, SystemPrompt, Tone, PrimaryColor, SecondaryColor, AvatarUrl);

    public ConfigPatch WidgetPatch() => new(Position: Position, Theme: Theme, AllowedDomains: AllowedDomains);

    /// <summary>What <c>WaldurWidget.preview</c> takes: the public look, as the widget session answers it.</summary>
    public Dictionary<string, string> Look() => new()
    {
        ["agent_name"] = AgentName,
        ["greeting"] = Greeting,
        ["primary_color"] = PrimaryColor,
        ["secondary_color"] = SecondaryColor,
        ["avatar_url"] = AvatarUrl,
        ["position"] = Position,
        ["theme"] = Theme,
    };
}
