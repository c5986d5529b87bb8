namespace Cmp.Web.Infrastructure.Settings;

/// <summary>
/// The operator's switches, read by their exact environment-variable names (PRODUCT.md §3).
/// Read on every use so that a test host or a reloaded configuration takes effect at once.
/// </summary>
public sealed class PlatformSettings(IConfiguration configuration)
{
    public const string OnboardingUniversalAutoApprove = "ONBOARDING_UNIVERSAL_AUTO_APPROVE";
    public const string CreateDefaultProject = "CREATE_DEFAULT_PROJECT_ON_ORGANIZATION_CREATION";
    public const string OidcBlockUninvited = "OIDC_BLOCK_CREATION_OF_UNINVITED_USERS";
    public const string EmailVerificationRequired = "EMAIL_VERIFICATION_REQUIRED";
    public const string ServiceProviderRequiresApproval = "SERVICE_PROVIDER_REQUIRES_APPROVAL";
    public const string Llm = "CMP_LLM";

    public bool AutoApproveSelfRegistration => Flag(OnboardingUniversalAutoApprove, false);
    public bool CreateDefaultProjectOnOrganizationCreation => Flag(CreateDefaultProject, false);
    public bool OidcBlockCreationOfUninvitedUsers => Flag(OidcBlockUninvited, false);
    public bool RequireEmailVerification => Flag(EmailVerificationRequired, true);
    public bool ProviderRequiresApproval => Flag(ServiceProviderRequiresApproval, false);
    public string LlmMode => (configuration[Llm] ?? "dev").Trim().ToLowerInvariant();
    public bool OidcEnabled => !string.IsNullOrWhiteSpace(configuration["Oidc:Authority"]);

    /// <summary>The public settings, by exact name, as <c>GET /api/configuration/</c> shows them.</summary>
    public IReadOnlyDictionary<string, object> Public() => new SortedDictionary<string, object>(StringComparer.Ordinal)
    {
        [OnboardingUniversalAutoApprove] = AutoApproveSelfRegistration,
        [CreateDefaultProject] = CreateDefaultProjectOnOrganizationCreation,
        [OidcBlockUninvited] = OidcBlockCreationOfUninvitedUsers,
        [EmailVerificationRequired] = RequireEmailVerification,
        [ServiceProviderRequiresApproval] = ProviderRequiresApproval,
        [Llm] = LlmMode,
        ["OIDC_ENABLED"] = OidcEnabled,
        ["PASSWORD_MIN_LENGTH"] = Features.Accounts.PasswordPolicy.MinLength,
    };

    private bool Flag(string name, bool fallback)
    {
        var raw = configuration[name];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        return raw.Trim().ToLowerInvariant() switch
        {
            "1" or "true" or "yes" or "on" => true,
            "0" or "false" or "no" or "off" => false,
            _ => throw new InvalidOperationException($"Setting {name} must be true or false, not '{raw}'."),
        };
    }
}
