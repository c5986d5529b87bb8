using System.Net;
using System.Text.Json.Nodes;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Platform;

public sealed class PlatformTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    private readonly Api _api = new(factory);

    [Fact]
    public async Task Configuration_ListsPublicSettingsByExactName_AndNoSecrets()
    {
        var config = await Json.ReadAsync(await _api.Anonymous().GetAsync("/api/configuration/"), HttpStatusCode.OK);
        foreach (var name in new[]
                 {
                     "ONBOARDING_UNIVERSAL_AUTO_APPROVE", "CREATE_DEFAULT_PROJECT_ON_ORGANIZATION_CREATION", "OIDC_BLOCK_CREATION_OF_UNINVITED_USERS",
                     "EMAIL_VERIFICATION_REQUIRED", "SERVICE_PROVIDER_REQUIRES_APPROVAL", "CMP_LLM",
                 })
        {
            Assert.True(config.ContainsKey(name), name);
        }
        Assert.False(config["ONBOARDING_UNIVERSAL_AUTO_APPROVE"]!.GetValue<bool>());
        Assert.True(config["EMAIL_VERIFICATION_REQUIRED"]!.GetValue<bool>());
        Assert.Equal("dev", config["CMP_LLM"]!.GetValue<string>());
        var text = config.ToJsonString();
        Assert.DoesNotContain(CmpFactory.StaffPassword, text);
        Assert.DoesNotContain("CMP_ADMIN", text);
        Assert.DoesNotContain("Data Source", text);
    }

    [Fact]
    public async Task Health_LiveAndReady()
    {
        Assert.Equal(HttpStatusCode.OK, (await _api.Anonymous().GetAsync("/health/live")).StatusCode);
        var ready = await _api.Anonymous().GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OpenApi_AndInteractiveReference_AreServed()
    {
        var schema = JsonNode.Parse(await _api.Anonymous().GetStringAsync("/api/schema/"))!;
        Assert.StartsWith("3.", schema["openapi"]!.GetValue<string>());
        var paths = schema["paths"]!.AsObject();
        Assert.True(paths.ContainsKey("/api/customers/"));
        Assert.True(paths.ContainsKey("/api-auth/password/"));
        Assert.True(paths.ContainsKey("/api/user-invitations/{uuid}/accept/"));
        var docs = await _api.Anonymous().GetAsync("/api/docs/");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Contains("api/schema/", await docs.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Emails_StaffOnly_NewestFirst()
    {
        var user = await _api.NewUserAsync();
        await Json.ProblemAsync(await user.Client.GetAsync("/api/admin/emails/"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api/admin/emails/"), HttpStatusCode.Unauthorized, ProblemTypes.Unauthorized);
        var email = $"twice-{Guid.NewGuid():N}@example.com";
        await _api.Anonymous().PostAsync("/api/auth/signup/", Json.Raw($"{{\"email\":\"{email}\",\"password\":\"{Api.Password}\",\"full_name\":\"T\"}}"));
        await _api.Anonymous().PostAsync("/api/auth/resend-verification/", Json.Raw($"{{\"email\":\"{email}\"}}"));
        var mails = await Json.ReadArrayAsync(await (await _api.StaffAsync()).GetAsync($"/api/admin/emails/?to={email}"));
        Assert.Equal(2, mails.Count);
        var first = mails[0]!["created"]!.GetValue<DateTime>();
        var second = mails[1]!["created"]!.GetValue<DateTime>();
        Assert.True(first >= second);
        var tokens = await factory.WithDbAsync(db => db.OneTimeTokens.Where(t => t.User.Email == email).OrderByDescending(t => t.CreatedAt).Select(t => t.TokenHash).ToListAsync());
        Assert.Contains(Cmp.Web.Infrastructure.Security.SecretTokens.Hash(await _api.VerificationTokenAsync(email)), tokens[0]);
    }

    [Fact]
    public async Task UnknownRoute_Is404Problem_AndWrongMethodIs405Problem()
    {
        await Json.ProblemAsync(await _api.Anonymous().GetAsync("/api/nothing-here/"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Json.ProblemAsync(await _api.Anonymous().PutAsync("/api/configuration/", Json.Raw("{}")), HttpStatusCode.MethodNotAllowed, ProblemTypes.MethodNotAllowed);
    }
}

/// <summary>Its own database, because the test breaks it.</summary>
public sealed class UnhandledErrorTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    [Fact]
    public async Task UnhandledException_Is500Problem_WithNoInternals()
    {
        var api = new Api(factory);
        var user = await api.NewUserAsync();
        // Break the schema under the running app: the next query fails inside EF, unhandled by any endpoint.
        await factory.WithDbAsync(db => db.Database.ExecuteSqlRawAsync(CmpFactory.UsePostgres ? "DROP TABLE customers CASCADE" : "DROP TABLE customers"));
        var response = await user.Client.GetAsync("/api/customers/");
        var problem = await Json.ProblemAsync(response, HttpStatusCode.InternalServerError, ProblemTypes.Internal);
        var body = problem.ToJsonString();
        Assert.DoesNotContain("Exception", body);
        Assert.DoesNotContain("customers", body);
        Assert.DoesNotContain(" at ", body);
        Assert.NotNull(problem["trace_id"]);
        var ready = await api.Anonymous().GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode); // the users table is still there
    }
}
