using System.Security.Cryptography;
using System.Text;

namespace Cmp.Web.Infrastructure.Security;

/// <summary>Opaque bearer secrets: random, shown once, stored only as a SHA-256 hash.</summary>
public static class SecretTokens
{
    /// <summary>256 random bits, base64url without padding (43 characters).</summary>
    public static string Create() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string token) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
