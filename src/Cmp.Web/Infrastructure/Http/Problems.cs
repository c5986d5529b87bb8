using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// Stable problem <c>type</c> values (RFC 9457). Clients switch on these, so they never change;
/// each resolves to a page under <c>/problems/</c> on this server that explains it.
/// </summary>
public static class ProblemTypes
{
    public const string Prefix = "/problems/";
    public const string Validation = Prefix + "validation";
    public const string MalformedRequest = Prefix + "malformed-request";
    public const string Unauthorized = Prefix + "unauthorized";
    public const string InvalidCredentials = Prefix + "invalid-credentials";
    public const string AccountLocked = Prefix + "account-locked";
    public const string EmailNotVerified = Prefix + "email-not-verified";
    public const string InvalidToken = Prefix + "invalid-token";
    public const string Forbidden = Prefix + "forbidden";
    public const string SelfRegistrationDisabled = Prefix + "self-registration-disabled";
    public const string NotFound = Prefix + "not-found";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string Conflict = Prefix + "conflict";
    public const string InvalidTransition = Prefix + "invalid-transition";
    public const string RateLimited = Prefix + "rate-limited";
    public const string Internal = Prefix + "internal-error";
    public const string OidcDisabled = Prefix + "oidc-disabled";
    public const string InvalidFlow = Prefix + "invalid-flow";
    public const string RuntimeNotReady = Prefix + "runtime-not-ready";
    public const string PublishRequirements = Prefix + "publish-requirements";
    public const string ProviderPending = Prefix + "provider-pending";
    public const string RunFailed = Prefix + "run-failed";
    public const string OidcUninvited = Prefix + "oidc-uninvited";
    public const string OidcEmailNotVerified = Prefix + "oidc-email-not-verified";

    /// <summary>The type for a status code that reached the client without one of ours.</summary>
    public static string ForStatus(int status) => status switch
    {
        400 => MalformedRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        409 => Conflict,
        429 => RateLimited,
        _ => Internal,
    };
}

/// <summary>Expected failures as values: each builds a problem result with a stable type.</summary>
public static class Problems
{
    public static ProblemHttpResult Create(int status, string type, string title, string? detail = null) =>
        TypedResults.Problem(new ProblemDetails { Status = status, Type = type, Title = title, Detail = detail });

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Type = ProblemTypes.Validation,
            Title = "One or more fields are invalid.",
            Detail = detail ?? string.Join(" ", errors.SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}"))),
        });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult NotFound(string what = "object") =>
        Create(404, ProblemTypes.NotFound, "Not found.", $"No {what} with that identifier is visible to you.");

    public static ProblemHttpResult Forbidden(string detail) =>
        Create(403, ProblemTypes.Forbidden, "Forbidden.", detail);

    public static ProblemHttpResult Conflict(string detail, string type = ProblemTypes.Conflict) =>
        Create(409, type, "Conflict.", detail);

    public static ProblemHttpResult Unauthorized(string detail, string type = ProblemTypes.Unauthorized) =>
        Create(401, type, "Unauthorized.", detail);
}

/// <summary>Collects per-field messages for a 400 problem; keys are the JSON (snake_case) field names.</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public FieldErrors Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }
        list.Add(message);
        return this;
    }

    /// <summary>Required text, trimmed, between <paramref name="min"/> and <paramref name="max"/> characters.</summary>
    public string? Text(string field, string? value, int max, bool required = false, int min = 1)
    {
        if (value is null)
        {
            if (required)
            {
                Add(field, "This field is required.");
            }
            return null;
        }
        var trimmed = value.Trim();
        if (TextInput.FirstRefused(trimmed) is { } control)
        {
            Add(field, TextInput.Message(control));
        }
        if (required && trimmed.Length == 0)
        {
            Add(field, "This field may not be blank.");
        }
        else if (trimmed.Length > 0 && trimmed.Length < min)
        {
            Add(field, $"Ensure this field has at least {min} characters.");
        }
        if (trimmed.Length > max)
        {
            Add(field, $"Ensure this field has no more than {max} characters.");
        }
        return trimmed;
    }

    public string? Email(string field, string? value, bool required = false)
    {
        var text = Text(field, value, 254, required);
        if (!string.IsNullOrEmpty(text) && !EmailAddress.IsValid(text))
        {
            Add(field, "Enter a valid email address.");
        }
        return string.IsNullOrEmpty(text) ? text : EmailAddress.Normalize(text);
    }

    public ProblemHttpResult ToProblem() =>
        Problems.Validation(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
}

public static class EmailAddress
{
    public static bool IsValid(string value) =>
        value.Length <= 254
        && System.Net.Mail.MailAddress.TryCreate(value, out var parsed)
        && parsed.Address == value
        && value.IndexOf('@') is var at && at > 0 && value.IndexOf('.', at) > at + 1 && !value.EndsWith('.');

    public static string Normalize(string value) => value.Trim().ToLowerInvariant();
}

/// <summary>Wire names for state enums: PascalCase members become SCREAMING_SNAKE (PendingConsumer → PENDING_CONSUMER).</summary>
public static class WireNames
{
    public static string Screaming<T>(this T value) where T : struct, Enum =>
        System.Text.RegularExpressions.Regex.Replace(value.ToString(), "(?<=[a-z0-9])([A-Z])", "_$1").ToUpperInvariant();

    public static bool TryParseScreaming<T>(string? value, out T result) where T : struct, Enum
    {
        result = default;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (string.Equals(candidate.Screaming(), value.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                result = candidate;
                return true;
            }
        }
        return false;
    }
}
