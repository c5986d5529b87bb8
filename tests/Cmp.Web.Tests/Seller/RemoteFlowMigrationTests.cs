using System.Net;
using Cmp.Web.Tests.Buyer;
using Cmp.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Cmp.Web.Tests.Seller;

/// <summary>
/// The RemoteFlowPerVersion migration on real data, on the lane's database: down, the agent gets its current
/// version's remote flow back; up again, that version has it (only if the agent is READY) and older ones have none,
/// and a buyer pinned to an older one still gets answers (its flow is created on the first run).
/// </summary>
public sealed class RemoteFlowMigrationTests(LangflowFactory factory) : IClassFixture<LangflowFactory>
{
    [Fact]
    public async Task RemoteFlowIds_MoveFromTheAgent_ToItsCurrentVersion_AndBack()
    {
        var world = await BuyerWorld.CreateAsync(new Api(factory), "Basic Prompting");
        var seller = world.Seller.Owner.Client;
        await Json.ReadAsync(await seller.PostAsync($"/api/provider-agents/{world.Agent}/import_flow/", Samples.Body("1.8", "Basic Prompting")), HttpStatusCode.Created);
        Assert.Equal("READY", (await Api.WaitForRuntimeAsync(seller, world.Agent))["runtime_state"]!.GetValue<string>());
        var before = await factory.WithDbAsync(db => Sql.QueryAsync(db, "SELECT number, remote_flow_id FROM flow_versions ORDER BY number"));
        Assert.Equal(2, before.Count);
        var current = (string)before[1][1]!;
        Assert.NotNull(before[0][1]);

        await factory.WithDbAsync(db => db.GetService<IMigrator>().MigrateAsync("PlanRateLimit"));
        var agentRow = Assert.Single(await factory.WithDbAsync(db => Sql.QueryAsync(db, "SELECT remote_flow_id FROM provider_agents")));
        Assert.Equal(current, agentRow[0]);

        await factory.WithDbAsync(db => db.Database.MigrateAsync());
        var after = await factory.WithDbAsync(db => Sql.QueryAsync(db, "SELECT number, remote_flow_id FROM flow_versions ORDER BY number"));
        Assert.Null(after[0][1]);
        Assert.Equal(current, after[1][1]);
        Assert.Empty(await factory.WithDbAsync(db => db.Database.GetPendingMigrationsAsync()));

        // An agent that is not READY (its newest deployment failed or still runs) may hold an older version's flow:
        // the migration does not give it to the current version.
        await factory.WithDbAsync(db => db.GetService<IMigrator>().MigrateAsync("PlanRateLimit"));
        await factory.WithDbAsync(db => db.Database.ExecuteSqlRawAsync("UPDATE provider_agents SET runtime_state = 'Failed'"));
        await factory.WithDbAsync(db => db.Database.MigrateAsync());
        Assert.All(await factory.WithDbAsync(db => Sql.QueryAsync(db, "SELECT remote_flow_id FROM flow_versions")), row => Assert.Null(row[0]));
        await factory.WithDbAsync(db => db.Database.ExecuteSqlRawAsync("UPDATE provider_agents SET runtime_state = 'Ready'"));

        // The buyer is pinned to version 1, which lost its flow id in the round trip: the first run creates one.
        var key = await world.KeyAsync();
        var answer = await BuyerWorld.AskAsync(factory.CreateClient(), key, "Hello", "migrated-session");
        Assert.Equal("langflow: Hello (turn 1)", answer["output"]!.GetValue<string>());
        var created = (await factory.WithDbAsync(db => Sql.QueryAsync(db, "SELECT remote_flow_id FROM flow_versions WHERE number = 1")))[0][0];
        Assert.NotNull(created);
        Assert.NotEqual(current, created);
    }
}
