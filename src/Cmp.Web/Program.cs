using System.Text.Json;
using System.Text.Json.Serialization;
using Cmp.Flows.Cli;
using Cmp.Web.Features.Accounts;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Gateway;
using Cmp.Web.Features.Widget;
using Cmp.Web.Features.Orders;
using Cmp.Web.Infrastructure.Redis;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Offerings;
using Cmp.Web.Features.Providers;
using Cmp.Web.Features.Organizations;
using Cmp.Web.Features.Platform;
using Cmp.Web.Components;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Scalar.AspNetCore;

// `dotnet run --project src/Cmp.Web -- flows check|run ...`: the flow runtime's command line, no web host.
if (args.Length > 0 && args[0] == "flows")
{
    Environment.ExitCode = await FlowsCli.RunAsync(args[1..], Console.Out, Console.Error, Environment.GetEnvironmentVariable);
    return;
}

var builder = WebApplication.CreateBuilder(args);
// Links are built from Cmp__PublicUrl, or on a loopback-only server from its own address; a server other machines
// can reach must be told its public address (never taken from a request's Host header).
_ = PublicAddress.Configured(builder.Configuration);
if (Listening.BeyondLoopback(builder.Configuration) is { } reachable && PublicAddress.Configured(builder.Configuration) is null)
{
    throw new InvalidOperationException(
        $"CMP would listen on {reachable}, which other machines can reach, but Cmp__PublicUrl is not set. Set Cmp__PublicUrl to the address "
        + "people use to reach CMP (such as https://cmp.example.com): links in mail, embed code and Location headers are built from it, never from a request's Host header.");
}
// The UI's CSS and scripts (MudBlazor's among them) straight from the build output in every environment, not only
// Development; a published app serves its own copy and this does nothing.
builder.WebHost.UseStaticWebAssets();
builder.WebHost.ConfigureKestrel(o => o.AddServerHeader = false);
var services = builder.Services;
var configuration = builder.Configuration;

services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
    o.SerializerOptions.Converters.Add(new StrictStringConverter());
});
services.AddProblemResponses();
services.AddCmpRateLimits(configuration);
services.AddHttpContextAccessor();
services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
{
    // Routes end in '/' (Waldur's convention); the generator trims it, so put it back.
    var paths = new Microsoft.OpenApi.OpenApiPaths();
    foreach (var (path, item) in document.Paths)
    {
        paths[path.EndsWith('/') ? path : path + "/"] = item;
    }
    document.Paths = paths;
    document.Info.Title = "CMP API";
    return Task.CompletedTask;
}));
services.AddPersistence(configuration);
var keyRing = services.AddDataProtection().SetApplicationName("cmp").PersistKeysToDbContext<CmpDbContext>();
var keyRingCertificate = KeyRingProtection.Certificate(configuration);
if (keyRingCertificate is not null)
{
    keyRing.ProtectKeysWithCertificate(keyRingCertificate).UnprotectKeysWithAnyCertificate(keyRingCertificate);
}
else if (Listening.BeyondLoopback(configuration) is { } reachableWithoutCertificate)
{
    throw new InvalidOperationException(
        $"CMP would listen on {reachableWithoutCertificate}, which other machines can reach, but DataProtection__CertificatePath is not set: the keys "
        + "that encrypt sellers' secrets would be stored unencrypted in the same database as the secrets. Set DataProtection__CertificatePath to a "
        + "PKCS#12 (.pfx) certificate with its private key, and DataProtection__CertificatePassword to its password.");
}
services.AddSingleton<PlatformSettings>();
services.AddSingleton<PublicAddress>();
Access.AddAccess(services);
services.AddScoped<EmailSender>();
services.AddAccounts();
services.AddPlatform();
services.AddAgents(configuration);
services.AddOrders();
services.AddBilling();
services.AddGateway();
services.AddRedis(configuration);
services.AddCmpAuthentication()
    .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null)
    .AddGatewayAuthentication()
    .AddCmpOidc(configuration);
services.AddAuthorization();
services.AddCmpUi();

var app = builder.Build();
// A setting that cannot be read stops the start, saying which and why, rather than the first request that needs it.
_ = app.Services.GetRequiredService<PlatformSettings>().PlatformFeePercent;
if (keyRingCertificate is null)
{
    app.Logger.LogWarning("The Data Protection key ring is stored unencrypted in the database (fine on this loopback-only server; "
        + "set DataProtection__CertificatePath and DataProtection__CertificatePassword before other machines can reach it).");
}

app.UseSecurityHeaders();
app.UseExceptionHandler();
app.UseStatusCodeResponses();
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.UseAntiforgery();

app.MapOpenApi("/api/schema/");
app.MapScalarApiReference("/api/docs", o => o.WithOpenApiRoutePattern("/api/schema/").WithTitle("CMP API"));
app.MapPlatformEndpoints();
app.MapAccountEndpoints();
app.MapOidcEndpoints();
app.MapCustomerEndpoints();
app.MapProjectEndpoints();
app.MapInvitationEndpoints();
app.MapProviderEndpoints();
app.MapProviderAgentEndpoints();
app.MapCatalogEndpoints();
app.MapOrderEndpoints();
app.MapAgentConfigEndpoints();
app.MapGatewayEndpoints();
app.MapWidgetEndpoints();
app.MapInvoiceEndpoints();
app.MapCmpUi();

await app.Services.MigrateDatabaseAsync();
var bootstrap = await Bootstrap.RunAsync(app.Services, configuration);

app.Lifetime.ApplicationStarted.Register(() =>
{
    var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
    // The check above read the configuration; this one sees where the server really listens (any other way to bind).
    if (addresses.FirstOrDefault(a => !Listening.IsLoopback(a)) is { } reachable && PublicAddress.Configured(configuration) is null)
    {
        Console.Error.WriteLine($"CMP listens on {reachable}, which other machines can reach, but Cmp__PublicUrl is not set; stopping. Set Cmp__PublicUrl to the address people use to reach CMP.");
        Environment.ExitCode = 1;
        app.Lifetime.StopApplication();
        return;
    }
    var url = app.Services.GetRequiredService<PublicAddress>().BaseUrl;
    Console.WriteLine();
    Console.WriteLine($"CMP is running at {url}");
    Console.WriteLine($"  Web UI:        {url}/  (sign in at {url}/login)");
    Console.WriteLine($"  API reference: {url}/api/docs/");
    Console.WriteLine($"  API sign-in:   POST {url}/api-auth/password/ {{\"username\": \"{bootstrap.AdminEmail}\", \"password\": \"...\"}}");
    if (bootstrap.GeneratedPassword is not null)
    {
        Console.WriteLine($"  Staff user {bootstrap.AdminEmail} was created with the password: {bootstrap.GeneratedPassword}");
        Console.WriteLine("  It is shown only this once. Set CMP_ADMIN_EMAIL and CMP_ADMIN_PASSWORD to choose your own.");
    }
    else if (bootstrap.AdminCreated)
    {
        Console.WriteLine($"  Staff user {bootstrap.AdminEmail} was created with the password from CMP_ADMIN_PASSWORD.");
    }
    else
    {
        Console.WriteLine($"  Staff user: {bootstrap.AdminEmail} (password as set on the first run).");
    }
    Console.WriteLine();
});

app.Run();

/// <summary>Visible to the test project's WebApplicationFactory.</summary>
public partial class Program;
