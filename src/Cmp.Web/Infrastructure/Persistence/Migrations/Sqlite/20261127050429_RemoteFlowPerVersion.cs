using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RemoteFlowPerVersion : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "remote_flow_id",
                table: "flow_versions",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            // Each version keeps its own remote flow. What a READY agent had is its current version's; an agent still
            // deploying, or whose last deployment failed, may hold an older version's, which is not copied (the version
            // then gets its flow on its next deployment or first run).
            migrationBuilder.Sql(
                "UPDATE flow_versions SET remote_flow_id = (SELECT a.remote_flow_id FROM provider_agents a " +
                "WHERE a.current_flow_version_id = flow_versions.id AND a.runtime_state = 'Ready')");

            migrationBuilder.DropColumn(
                name: "remote_flow_id",
                table: "provider_agents");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "remote_flow_id",
                table: "provider_agents",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.Sql(
                "UPDATE provider_agents SET remote_flow_id = (SELECT v.remote_flow_id FROM flow_versions v " +
                "WHERE v.id = provider_agents.current_flow_version_id)");

            migrationBuilder.DropColumn(
                name: "remote_flow_id",
                table: "flow_versions");
        }
    }
}
