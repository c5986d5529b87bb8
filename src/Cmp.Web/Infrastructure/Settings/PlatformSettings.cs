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
    public const string PlatformFeePercentName = "PLATFORM_FEE_PERCENT";

    public bool AutoApproveSelfRegistration => Flag(OnboardingUniversalAutoApprove, false);
    public bool CreateDefaultProjectOnOrganizationCreation => Flag(CreateDefaultProject, false);
    public bool OidcBlockCreationOfUninvitedUsers => Flag(OidcBlockUninvited, false);
    public bool RequireEmailVerification => Flag(EmailVerificationRequired, true);
    public bool ProviderRequiresApproval => Flag(ServiceProviderRequiresApproval, false);
    public string LlmMode => (configuration[Llm] ?? "dev").Trim().ToLowerInvariant();
    /// <summary>The operator's share of each seller's gross revenue, in percent (0 to 100, exact decimal).</summary>
    public decimal PlatformFeePercent
    {
        get
        {
            var raw = configuration[PlatformFeePercentName];
            if (string.IsNullOrWhiteSpace(raw))
            {
                return 0m;
            }
            if (decimal.TryParse(raw.Trim(), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var value) && value <= 100m)
            {
                return value;
            }
            throw new InvalidOperationException($"Setting {PlatformFeePercentName} must be a number from 0 to 100 (such as 12.5), not '{raw}'.");
        }
    }

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
        [PlatformFeePercentName] = PlatformFeePercent.ToString(System.Globalization.CultureInfo.InvariantCulture),
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
