using System.Net;
using Cmp.Web.Features.Billing;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Cmp.Web.Tests.Billing;

/// <summary>
/// The MoneyRules migration on real data, on the lane's database: down, statuses go back to ok/error; up again,
/// they become UsageStatus names, each record learns its resource's plan, and each resource gets its plan period.
/// </summary>
public sealed class MoneyRulesMigrationTests(CmpFactory factory) : IClassFixture<CmpFactory>
{
    [Fact]
    public async Task UsageStatuses_Plans_AndPlanPeriods_AreCarriedOver()
    {
        var api = new Api(factory);
        var world = await BuyerWorld.CreateAsync(api, "Basic Prompting");
        var key = await world.KeyAsync();
        await BuyerWorld.AskAsync(api.Anonymous(), key, "one");
        await BuyerWorld.AskAsync(api.Anonymous(), key, "two");
        await Json.ReadAsync(await world.Buyer.Client.PostAsync($"/api/marketplace-resources/{world.Resource}/terminate/", null), HttpStatusCode.OK);

        await factory.WithDbAsync(db => db.GetService<IMigrator>().MigrateAsync("OrderNameAndCancelTime"));
        var old = await factory.WithDbAsync(db => Sql.QueryAsync(db, "SELECT status FROM usage_records"));
        Assert.Equal(["ok", "ok"], old.Select(r => (string)r[0]!));
        await factory.WithDbAsync(db => db.Database.ExecuteSqlRawAsync("UPDATE usage_records SET status = 'error' WHERE request_id = (SELECT MIN(request_id) FROM usage_records)"));

        await factory.WithDbAsync(db => db.Database.MigrateAsync());
        Assert.Empty(await factory.WithDbAsync(db => db.Database.GetPendingMigrationsAsync()));
        var configId = Guid.ParseExact(world.Config, "N");
        var records = await factory.WithDbAsync(db => db.UsageRecords.AsNoTracking().Where(u => u.ConfigId == configId).OrderBy(u => u.RequestId).ToListAsync());
        Assert.Equal([UsageStatus.Failed, UsageStatus.Completed], records.Select(r => r.Status));
        Assert.All(records, r => Assert.Equal(Guid.ParseExact(world.Plan, "N"), r.PlanId));

        var resourceId = Guid.ParseExact(world.Resource, "N");
        var resource = await factory.WithDbAsync(db => db.Resources.AsNoTracking().SingleAsync(r => r.Id == resourceId));
        var period = Assert.Single(await factory.WithDbAsync(db => db.PlanPeriods.AsNoTracking().Where(p => p.ResourceId == resourceId).ToListAsync()));
        Assert.Equal((resource.PlanId, resource.ActivatedAt!.Value, resource.TerminatedAt), (period.PlanId, period.StartsAt, period.EndsAt));
    }
}
