using Cmp.Web.Infrastructure.Security;

namespace Cmp.Web.Features.Organizations;

/// <summary>Role names on the wire are lower case (<c>owner</c>, <c>admin</c>); numbers are never accepted as roles.</summary>
internal static class Roles
{
    public static string Name(this CustomerRole role) => role.ToString().ToLowerInvariant();

    public static string Name(this ProjectRole role) => role.ToString().ToLowerInvariant();

    public static bool TryParse(string? value, out CustomerRole role) => TryParseName(value, out role);

    public static bool TryParse(string? value, out ProjectRole role) => TryParseName(value, out role);

    public static string Allowed<T>() where T : struct, Enum => string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()));

    /// <summary>The customer roles whose table entry holds <paramref name="permission"/> (for use inside queries).</summary>
    public static CustomerRole[] CustomerRolesWith(string permission) =>
        RolePermissions.Customer.Where(kv => kv.Value.Contains(permission)).Select(kv => kv.Key).ToArray();

    public static ProjectRole[] ProjectRolesWith(string permission) =>
        RolePermissions.Project.Where(kv => kv.Value.Contains(permission)).Select(kv => kv.Key).ToArray();

    private static bool TryParseName<T>(string? value, out T role) where T : struct, Enum
    {
        role = default;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }
        var name = Enum.GetNames<T>().FirstOrDefault(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase));
        return name is not null && Enum.TryParse(name, out role);
    }
}
