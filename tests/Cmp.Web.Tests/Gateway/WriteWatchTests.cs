using Cmp.Web.Infrastructure.Persistence;

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
    [InlineData("-- cmp:unwatched\n\nUPDATE \"api_keys\" AS \"a\" SET \"last_used_at\" = @now WHERE \"a\".\"id\" = @id", false)]
    [InlineData("UPDATE api_keys AS a SET revoked_at = @now WHERE a.id = @id", true)]
    [InlineData("INSERT INTO plan_components (id, plan_id) VALUES (@p0, @p1);\nUPDATE plans SET version = @p2 WHERE id = @p3;", true)]
    [InlineData("SELECT a.id FROM api_keys AS a WHERE a.hash = @hash", false)]
    [InlineData("INSERT INTO usage_records (id, resource_id) VALUES (@p0, @p1);", false)]
    [InlineData("UPDATE api_keys_archive SET note = @p0;", false)]
    [InlineData("UPDATE \"users\" SET \"failed_sign_in_count\" = 0 WHERE \"id\" = @p0;", false)]
    public void AWriteToACachedTable_MovesTheGeneration_OthersDoNot(string sql, bool watched) =>
        Assert.Equal(watched, WriteWatchInterceptor.IsWatchedWrite(sql));
}
