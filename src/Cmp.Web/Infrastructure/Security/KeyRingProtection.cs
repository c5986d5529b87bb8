using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cmp.Web.Infrastructure.Security;

/// <summary>
/// The certificate that encrypts the Data Protection key ring at rest (<c>DataProtection__CertificatePath</c>, a PKCS#12
/// file with its private key, and <c>DataProtection__CertificatePassword</c>). The key ring lives in the database beside
/// the secrets it protects; encrypted with a certificate kept outside the database, a copy of the database alone
/// decrypts nothing. Required on a server other machines can reach (Program.cs refuses to start without it).
/// </summary>
public static class KeyRingProtection
{
    public static X509Certificate2? Certificate(IConfiguration configuration)
    {
        var path = configuration["DataProtection:CertificatePath"];
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, configuration["DataProtection:CertificatePassword"], X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"DataProtection__CertificatePath '{path}' could not be read as a PKCS#12 certificate with DataProtection__CertificatePassword: {ex.Message}", ex);
        }
        if (!certificate.HasPrivateKey)
        {
            throw new InvalidOperationException($"DataProtection__CertificatePath '{path}' has no private key; the key ring could be encrypted but never read back.");
        }
        return certificate;
    }
}
