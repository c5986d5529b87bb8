using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Cmp.Web.Infrastructure.Settings;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cmp.Web.Features.Platform;

public sealed record EmailDto(string Uuid, string To, string Subject, string Body, string Delivery, DateTime Created, DateTime? SentAt);

/// <summary>Operator-facing endpoints: public configuration, health, stored mail, problem type pages.</summary>
public static class PlatformEndpoints
{
    public static IServiceCollection AddPlatform(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        return services;
    }

    public static IEndpointRouteBuilder MapPlatformEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/configuration/", (PlatformSettings settings) => TypedResults.Ok(settings.Public()))
            .WithTags("Platform").WithName("GetConfiguration").AllowAnonymous();

        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).WithName("HealthLive");
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready") }).WithName("HealthReady");

        var admin = app.MapGroup("/api/admin").WithTags("Admin").RequireAuthorization();
        admin.MapGet("/emails/", ListEmailsAsync).WithName("ListEmails");

        app.MapGet("/problems/{slug}", (string slug) =>
            TypedResults.Text($"CMP problem type '{slug}'. See README.md, section 'Errors', for what each type means and how to react.\n", "text/plain"))
            .ExcludeFromDescription().WithName("ProblemType");
        return app;
    }

    private static async Task<Results<Ok<List<EmailDto>>, ProblemHttpResult>> ListEmailsAsync(
        ListQuery query, string? to, HttpContext ctx, CmpDbContext db, Access access, CancellationToken ct)
    {
        // A non-staff caller is refused before their query is read.
        if (PlatformOperations.RefuseUnlessStaff(access, "read the stored mail") is { } refused)
        {
            return refused;
        }
        if (query.Error is not null)
        {
            return query.Error;
        }
        var outcome = await PlatformOperations.ListEmailsAsync(db, access, new EmailQuery(to, query.Search, query.Page, query.PageSize), ct);
        if (!outcome.Ok)
        {
            return outcome.ToProblemResult();
        }
        Paging.WriteHeaders(ctx, outcome.Value!.Total, query);
        return TypedResults.Ok(outcome.Value.Items.ToList());
    }
}

internal sealed class DatabaseHealthCheck(CmpDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy("The database does not answer.");
            }
            // A real query: the schema is there, not just the server.
            await db.Users.AnyAsync(cancellationToken);
            return HealthCheckResult.Healthy("The database answers.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }
}
