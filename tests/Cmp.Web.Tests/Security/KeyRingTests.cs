using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cmp.Web.Tests.Security;

/// <summary>
/// The Data Protection key ring, stored in the database beside the secrets it protects, is encrypted with the
/// certificate of <c>DataProtection__CertificatePath</c>: the database alone decrypts nothing. Required beyond loopback.
/// </summary>
public sealed class KeyRingTests
{
    public const string Password = "Keyring-Test-Pfx-7";

    /// <summary>A self-signed certificate with its private key, as a .pfx file.</summary>
    public static string CreatePfx()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=cmp-key-ring-test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var path = Path.Combine(Path.GetTempPath(), $"cmp-key-ring-{Guid.NewGuid():N}.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, Password));
        return path;
    }

    private sealed class Configured(params (string Key, string Value)[] settings) : CmpFactory
    {
        protected override IReadOnlyDictionary<string, string?> Settings => settings.ToDictionary(s => s.Key, s => (string?)s.Value);
    }

    /// <summary>A Data Protection system over the same database table, as someone holding a copy of the database would build it.</summary>
    private static IDataProtectionProvider FromTheDatabase(CmpFactory factory, X509Certificate2? certificate)
    {
        var services = new ServiceCollection().AddLogging();
        if (CmpFactory.UsePostgres)
        {
            services.AddDbContext<CmpDbContext, PostgresCmpDbContext>(o => o.UseNpgsql(factory.ConnectionString).UseSnakeCaseNamingConvention());
        }
        else
        {
            services.AddDbContext<CmpDbContext, SqliteCmpDbContext>(o => o.UseSqlite(factory.ConnectionString).UseSnakeCaseNamingConvention());
        }
        var builder = services.AddDataProtection().SetApplicationName("cmp").PersistKeysToDbContext<CmpDbContext>().DisableAutomaticKeyGeneration();
        if (certificate is not null)
        {
            builder.UnprotectKeysWithAnyCertificate(certificate);
        }
        return services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>();
    }

    [Fact]
    public async Task WithACertificate_TheDatabaseAloneDecryptsNothing()
    {
        var pfx = CreatePfx();
        await using var factory = new Configured(("DataProtection:CertificatePath", pfx), ("DataProtection:CertificatePassword", Password));
        await factory.InitializeAsync();
        var secret = factory.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("Cmp.Agents.Secrets").Protect("sk-live-seller-secret");

        var keys = await factory.WithDbAsync(db => db.DataProtectionKeys.AsNoTracking().Select(k => k.Xml).ToListAsync());
        Assert.NotEmpty(keys);
        Assert.All(keys, xml => Assert.Contains("encryptedSecret", xml!));
        Assert.All(keys, xml => Assert.DoesNotContain("<value>", xml!));

        var stolen = FromTheDatabase(factory, null).CreateProtector("Cmp.Agents.Secrets");
        Assert.ThrowsAny<CryptographicException>(() => stolen.Unprotect(secret));
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(pfx, Password);
        Assert.Equal("sk-live-seller-secret", FromTheDatabase(factory, certificate).CreateProtector("Cmp.Agents.Secrets").Unprotect(secret));
        File.Delete(pfx);
    }

    [Fact]
    public async Task WithoutACertificate_OnLoopback_StartsAndWarns()
    {
        await using var factory = new CmpFactory();
        await factory.InitializeAsync();
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().GetAsync("/api/configuration/")).StatusCode);
        Assert.Contains(factory.Logs, l => l.Contains("key ring is stored unencrypted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BeyondLoopback_WithoutACertificate_DoesNotStart_AndSaysWhich()
    {
        await using var factory = new Configured(("urls", "http://0.0.0.0:5123"), ("Cmp:PublicUrl", "https://cmp.example.com"));
        await factory.InitializeAsync();
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("DataProtection__CertificatePath", error.ToString());
    }

    [Fact]
    public async Task AnUnreadableCertificate_DoesNotStart()
    {
        var pfx = CreatePfx();
        await using var factory = new Configured(("DataProtection:CertificatePath", pfx), ("DataProtection:CertificatePassword", "wrong"));
        await factory.InitializeAsync();
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("DataProtection__CertificatePath", error.ToString());
        File.Delete(pfx);
    }
}
