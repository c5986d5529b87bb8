using System.Text.RegularExpressions;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Tests.Gateway;

public sealed class WriteWatchTests
{
    [Theory]
    [InlineData("UPDATE \"api_keys\" AS \"a\" SET \"revoked_at\" = @p WHERE \"a\".\"id\" = @id", true)]
    [InlineData("INSERT INTO \"agent_secrets\" (\"id\", \"name\") VALUES (@p0, @p1) RETURNING \"id\";", true)]
    [InlineData("DELETE FROM \"plan_components\" WHERE \"id\" = @p0;", true)]
    [InlineData("UPDATE \"resources\" SET \"state\" = @p0 WHERE \"id\" = @p1;\nINSERT INTO \"orders\" (\"id\") VALUES (@p2);", true)]
    [InlineData("SELECT \"a\".\"id\" FROM \"api_keys\" AS \"a\" WHERE \"a\".\"hash\" = @hash", false)]
    [InlineData("INSERT INTO \"usage_records\" (\"id\") VALUES (@p0);\nINSERT INTO \"conversation_messages\" (\"id\") VALUES (@p1);", false)]
    [InlineData("UPDATE \"agent_configs\" SET \"allowed_domains\" = @p0, \"version\" = @p1\nWHERE \"id\" = @p2 AND \"version\" = @p3\nRETURNING 1;", true)]
    [InlineData("UPDATE api_keys AS a SET revoked_at = @now WHERE a.id = @id", true)]
    [InlineData("INSERT INTO plan_components (id, plan_id) VALUES (@p0, @p1);\nUPDATE plans SET version = @p2 WHERE id = @p3;", true)]
    [InlineData("SELECT a.id FROM api_keys AS a WHERE a.hash = @hash", false)]
    [InlineData("INSERT INTO usage_records (id, resource_id) VALUES (@p0, @p1);", false)]
    [InlineData("UPDATE api_keys_archive SET note = @p0;", false)]
    [InlineData("UPDATE \"users\" SET \"failed_sign_in_count\" = 0 WHERE \"id\" = @p0;", false)]
    public void AWriteToACachedTable_MovesTheGeneration_OthersDoNot(string sql, bool watched) =>
        Assert.Equal(watched, WriteWatchInterceptor.IsWatchedWrite(sql, Pattern));

    private static readonly Regex Pattern = WriteWatchInterceptor.TablePattern(Tables());

    private static IReadOnlyList<string> Tables()
    {
        using var db = new SqliteCmpDbContext(new DbContextOptionsBuilder<SqliteCmpDbContext>().UseSqlite("Data Source=:memory:").UseSnakeCaseNamingConvention().Options);
        return WriteWatchInterceptor.WatchedTables(db.Model);
    }

    [Fact]
    public void TheWatchedTables_AreTheModelsOwn() =>
        Assert.Equal(
            ["api_keys", "agent_configs", "resources", "provider_agents", "plans", "plan_components", "agent_secrets", "agent_files", "flow_versions"],
            Tables());
}
