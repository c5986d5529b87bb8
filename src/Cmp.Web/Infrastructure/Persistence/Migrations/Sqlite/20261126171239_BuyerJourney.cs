using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class BuyerJourney : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "orders",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    agent_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    plan_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    project_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    customer_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    state = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    flow_version_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    created_by_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    consumer_reviewed_by_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    consumer_reviewed_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    provider_reviewed_by_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    provider_reviewed_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    canceled_by_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    completed_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    error_message = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    resource_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    version = table.Column<Guid>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_orders", x => x.id);
                    table.ForeignKey(
                        name: "fk_orders_customers_customer_id",
                        column: x => x.customer_id,
                        principalTable: "customers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_orders_flow_versions_flow_version_id",
                        column: x => x.flow_version_id,
                        principalTable: "flow_versions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_orders_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_orders_projects_project_id",
                        column: x => x.project_id,
                        principalTable: "projects",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_orders_provider_agents_agent_id",
                        column: x => x.agent_id,
                        principalTable: "provider_agents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "resources",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    order_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    agent_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    plan_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    project_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    customer_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 150, nullable: false),
                    state = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    flow_version_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    activated_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    terminated_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    version = table.Column<Guid>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_resources", x => x.id);
                    table.ForeignKey(
                        name: "fk_resources_customers_customer_id",
                        column: x => x.customer_id,
                        principalTable: "customers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_resources_flow_versions_flow_version_id",
                        column: x => x.flow_version_id,
                        principalTable: "flow_versions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_resources_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_resources_projects_project_id",
                        column: x => x.project_id,
                        principalTable: "projects",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_resources_provider_agents_agent_id",
                        column: x => x.agent_id,
                        principalTable: "provider_agents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "agent_configs",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    resource_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    customer_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    agent_name = table.Column<string>(type: "TEXT", maxLength: 80, nullable: false),
                    greeting = table.Column<string>(type: "TEXT", maxLength: 500, nullable: false),
                    system_prompt = table.Column<string>(type: "TEXT", maxLength: 8000, nullable: false),
                    tone = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    primary_color = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    secondary_color = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    avatar_url = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    position = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    theme = table.Column<string>(type: "TEXT", maxLength: 10, nullable: false),
                    allowed_domains = table.Column<string>(type: "TEXT", maxLength: 10000, nullable: false),
                    version = table.Column<Guid>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agent_configs", x => x.id);
                    table.ForeignKey(
                        name: "fk_agent_configs_resources_resource_id",
                        column: x => x.resource_id,
                        principalTable: "resources",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    config_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    kind = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    prefix = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    last4 = table.Column<string>(type: "TEXT", maxLength: 4, nullable: false),
                    hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    expires_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    revoked_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    last_used_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    created_by_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_keys", x => x.id);
                    table.ForeignKey(
                        name: "fk_api_keys_agent_configs_config_id",
                        column: x => x.config_id,
                        principalTable: "agent_configs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "usage_records",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    config_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    resource_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    api_key_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    session_id = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    request_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    input_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    output_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    latency_ms = table.Column<long>(type: "INTEGER", nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    idempotency_key = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    response = table.Column<string>(type: "TEXT", nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_records", x => x.id);
                    table.ForeignKey(
                        name: "fk_usage_records_agent_configs_config_id",
                        column: x => x.config_id,
                        principalTable: "agent_configs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_agent_configs_customer_id",
                table: "agent_configs",
                column: "customer_id");

            migrationBuilder.CreateIndex(
                name: "ix_agent_configs_resource_id",
                table: "agent_configs",
                column: "resource_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_config_id",
                table: "api_keys",
                column: "config_id");

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_hash",
                table: "api_keys",
                column: "hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_orders_agent_id",
                table: "orders",
                column: "agent_id");

            migrationBuilder.CreateIndex(
                name: "ix_orders_customer_id_state",
                table: "orders",
                columns: new[] { "customer_id", "state" });

            migrationBuilder.CreateIndex(
                name: "ix_orders_flow_version_id",
                table: "orders",
                column: "flow_version_id");

            migrationBuilder.CreateIndex(
                name: "ix_orders_plan_id",
                table: "orders",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_orders_project_id",
                table: "orders",
                column: "project_id");

            migrationBuilder.CreateIndex(
                name: "ix_resources_agent_id",
                table: "resources",
                column: "agent_id");

            migrationBuilder.CreateIndex(
                name: "ix_resources_customer_id_state",
                table: "resources",
                columns: new[] { "customer_id", "state" });

            migrationBuilder.CreateIndex(
                name: "ix_resources_flow_version_id",
                table: "resources",
                column: "flow_version_id");

            migrationBuilder.CreateIndex(
                name: "ix_resources_plan_id",
                table: "resources",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_resources_project_id",
                table: "resources",
                column: "project_id");

            migrationBuilder.CreateIndex(
                name: "ix_usage_records_config_id_created_at",
                table: "usage_records",
                columns: new[] { "config_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_records_config_id_idempotency_key",
                table: "usage_records",
                columns: new[] { "config_id", "idempotency_key" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_usage_records_resource_id_created_at",
                table: "usage_records",
                columns: new[] { "resource_id", "created_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "orders");

            migrationBuilder.DropTable(
                name: "usage_records");

            migrationBuilder.DropTable(
                name: "agent_configs");

            migrationBuilder.DropTable(
                name: "resources");
        }
    }
}
