using System.Reflection;

namespace Cmp.Web.Features.Accounts;

/// <summary>
/// NIST SP 800-63B style: length over composition rules. At least <see cref="MinLength"/> characters,
/// not a known breached or trivial password, not built from the account's own email, and not a
/// run of one or two repeated characters.
/// </summary>
public static class PasswordPolicy
{
    public const int MinLength = 10;
    public const int MaxLength = 128;

    private static readonly Lazy<HashSet<string>> Common = new(LoadCommon);

    /// <summary>Returns the reasons the password is refused; empty when it is acceptable.</summary>
    public static List<string> Check(string? password, string? email)
    {
        var problems = new List<string>();
        if (string.IsNullOrEmpty(password))
        {
            problems.Add("This field is required.");
            return problems;
        }
        if (password.Length < MinLength)
        {
            problems.Add($"The password must have at least {MinLength} characters.");
        }
        if (password.Length > MaxLength)
        {
            problems.Add($"The password must have no more than {MaxLength} characters.");
        }
        var lower = password.ToLowerInvariant();
        if (Common.Value.Contains(lower))
        {
            problems.Add("This password is too common: it appears in lists of breached passwords.");
        }
        else if (password.Distinct().Count() <= 2)
        {
            problems.Add("This password is too simple: it repeats one or two characters.");
        }
        else if (IsSequence(lower))
        {
            problems.Add("This password is too simple: it is a keyboard or number sequence.");
        }
        if (!string.IsNullOrEmpty(email))
        {
            var local = email.Split('@')[0].ToLowerInvariant();
            if (lower == email.ToLowerInvariant() || (local.Length >= 4 && lower.Contains(local)))
            {
                problems.Add("The password must not contain your email address.");
            }
        }
        return problems;
    }

    private static bool IsSequence(string value)
    {
        const string rows = "abcdefghijklmnopqrstuvwxyz 01234567890 qwertyuiop asdfghjkl zxcvbnm";
        if (rows.Contains(value, StringComparison.Ordinal))
        {
            return true;
        }
        var reversed = new string(value.Reverse().ToArray());
        return rows.Contains(reversed, StringComparison.Ordinal);
    }

    private static HashSet<string> LoadCommon()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Cmp.Web.Features.Accounts.common-passwords.txt")
            ?? throw new InvalidOperationException("The common-password list is missing from the assembly.");
        using var reader = new StreamReader(stream);
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            line = line.Trim();
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                set.Add(line.ToLowerInvariant());
            }
        }
        return set;
    }
}
