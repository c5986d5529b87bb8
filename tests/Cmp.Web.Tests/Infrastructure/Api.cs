using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Cmp.Web.Tests.Infrastructure;

/// <summary>An HTTP conversation with the running app, as a client would hold it.</summary>
public sealed partial class Api(CmpFactory factory)
{
    public CmpFactory Factory { get; } = factory;

    public HttpClient Anonymous() => Factory.CreateClient(new() { AllowAutoRedirect = false });

    public HttpClient As(string token, string scheme = "Token")
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(scheme, token);
        return client;
    }

    public async Task<string> LoginAsync(string email, string password)
    {
        using var response = await Anonymous().PostAsJsonAsync("/api-auth/password/", new { username = email, password });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"sign-in of {email} failed: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!["token"]!.GetValue<string>();
    }

    private string? _staffToken;

    public async Task<HttpClient> StaffAsync() => As(_staffToken ??= await LoginAsync(CmpFactory.StaffEmail, CmpFactory.StaffPassword));

    public const string Password = "Correct-Horse-42-Battery";

    /// <summary>Signs a new user up, verifies the email through the stored mail, signs in; returns a client with the user's token.</summary>
    public async Task<User> NewUserAsync(string? email = null, string? fullName = null)
    {
        email ??= $"user-{Guid.NewGuid():N}@example.com";
        using var signup = await Anonymous().PostAsJsonAsync("/api/auth/signup/", new { email, password = Password, full_name = fullName ?? "Test User" });
        Assert.Equal(HttpStatusCode.Created, signup.StatusCode);
        var created = await signup.Content.ReadFromJsonAsync<JsonObject>();
        if (created!["email_verified"]!.GetValue<bool>() == false)
        {
            var token = await VerificationTokenAsync(email);
            using var verify = await Anonymous().PostAsJsonAsync("/api/auth/verify-email/", new { token });
            Assert.Equal(HttpStatusCode.OK, verify.StatusCode);
        }
        var apiToken = await LoginAsync(email, Password);
        return new User(email, created["uuid"]!.GetValue<string>(), apiToken, As(apiToken));
    }

    /// <summary>The newest stored mail to <paramref name="to"/>, read the way staff read it.</summary>
    public async Task<JsonObject> LatestEmailAsync(string to)
    {
        var staff = await StaffAsync();
        var mails = await staff.GetFromJsonAsync<JsonArray>($"/api/admin/emails/?to={Uri.EscapeDataString(to)}");
        Assert.NotNull(mails);
        Assert.NotEmpty(mails);
        return mails[0]!.AsObject();
    }

    public async Task<string> VerificationTokenAsync(string email)
    {
        var mail = await LatestEmailAsync(email);
        var match = TokenInLink().Match(mail["body"]!.GetValue<string>());
        Assert.True(match.Success, "the verification mail carries token=...");
        return match.Groups[1].Value;
    }

    [GeneratedRegex("token=([A-Za-z0-9_-]+)")]
    private static partial Regex TokenInLink();

    public async Task<string> NewCustomerAsync(User owner, string name = "Acme")
    {
        var staff = await StaffAsync();
        var created = await Json.ReadAsync(await staff.PostAsJsonAsync("/api/customers/", new { name }), HttpStatusCode.Created);
        var uuid = created["uuid"]!.GetValue<string>();
        await Json.ReadAsync(await staff.PostAsJsonAsync($"/api/customers/{uuid}/add_user/", new { user = owner.Uuid, role = "owner" }), HttpStatusCode.Created);
        return uuid;
    }

    public sealed record User(string Email, string Uuid, string Token, HttpClient Client);

    public sealed record Seller(User Owner, string Customer, string Provider);

    /// <summary>A user who owns an organization registered as an (active) service provider.</summary>
    public async Task<Seller> NewSellerAsync(string name = "Seller Inc")
    {
        var owner = await NewUserAsync();
        var customer = await NewCustomerAsync(owner, name);
        var provider = await Json.ReadAsync(await owner.Client.PostAsJsonAsync("/api/marketplace-service-providers/", new { customer }), HttpStatusCode.Created);
        return new Seller(owner, customer, provider["uuid"]!.GetValue<string>());
    }

    public static async Task<string> NewAgentAsync(Seller seller, string name = "Helper", string category = "Assistants")
    {
        var agent = await Json.ReadAsync(await seller.Owner.Client.PostAsJsonAsync("/api/provider-agents/",
            new { service_provider = seller.Provider, name, description = "Answers questions", category }), HttpStatusCode.Created);
        return agent["uuid"]!.GetValue<string>();
    }

    /// <summary>Polls the agent until its runtime leaves DEPLOYING; returns the agent.</summary>
    public static async Task<JsonObject> WaitForRuntimeAsync(HttpClient client, string agent)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var current = await Json.ReadAsync(await client.GetAsync($"/api/provider-agents/{agent}/"), HttpStatusCode.OK);
            var state = current["runtime_state"]!.GetValue<string>();
            if (state != "DEPLOYING" || DateTime.UtcNow > deadline)
            {
                return current;
            }
            await Task.Delay(50);
        }
    }
}

public static class Json
{
    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return string.IsNullOrEmpty(body) ? [] : JsonNode.Parse(body)!.AsObject();
    }

    public static async Task<JsonArray> ReadArrayAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsArray();
    }

    /// <summary>Asserts an RFC 9457 problem with the given status and stable type; returns it.</summary>
    public static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(type, problem["type"]!.GetValue<string>());
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        return problem;
    }

    public static StringContent Raw(string json) => new(json, Encoding.UTF8, "application/json");

    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}
