using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class SellerJourney : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "conversation_messages",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    scope = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    session_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    sender = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    sender_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    text = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_conversation_messages", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "service_providers",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    customer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    state = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    created_by_id = table.Column<Guid>(type: "uuid", nullable: false),
                    approved_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    approved_by_id = table.Column<Guid>(type: "uuid", nullable: true),
                    version = table.Column<Guid>(type: "uuid", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_service_providers", x => x.id);
                    table.ForeignKey(
                        name: "fk_service_providers_customers_customer_id",
                        column: x => x.customer_id,
                        principalTable: "customers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "agent_files",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    flow_version_id = table.Column<Guid>(type: "uuid", nullable: false),
                    node_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    file_name = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    content_type = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    size = table.Column<long>(type: "bigint", nullable: false),
                    content = table.Column<byte[]>(type: "bytea", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agent_files", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "agent_secrets",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    @protected = table.Column<string>(name: "protected", type: "text", nullable: false),
                    updated_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agent_secrets", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "flow_versions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    number = table.Column<int>(type: "integer", nullable: false),
                    sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    json = table.Column<string>(type: "text", nullable: false),
                    summary = table.Column<string>(type: "text", nullable: false),
                    created_by_id = table.Column<Guid>(type: "uuid", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_flow_versions", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "provider_agents",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    service_provider_id = table.Column<Guid>(type: "uuid", nullable: false),
                    offering_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(150)", maxLength: 150, nullable: false),
                    description = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: false),
                    category = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    state = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    runtime_state = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    runtime_error = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    current_flow_version_id = table.Column<Guid>(type: "uuid", nullable: true),
                    remote_flow_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    requires_provider_approval = table.Column<bool>(type: "boolean", nullable: false),
                    version = table.Column<Guid>(type: "uuid", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_provider_agents", x => x.id);
                    table.ForeignKey(
                        name: "fk_provider_agents_flow_versions_current_flow_version_id",
                        column: x => x.current_flow_version_id,
                        principalTable: "flow_versions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_provider_agents_service_providers_service_provider_id",
                        column: x => x.service_provider_id,
                        principalTable: "service_providers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "plans",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(150)", maxLength: 150, nullable: false),
                    description = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    currency = table.Column<string>(type: "character varying(3)", maxLength: 3, nullable: false),
                    archived_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    version = table.Column<Guid>(type: "uuid", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_plans", x => x.id);
                    table.ForeignKey(
                        name: "fk_plans_provider_agents_agent_id",
                        column: x => x.agent_id,
                        principalTable: "provider_agents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "plan_components",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<Guid>(type: "uuid", nullable: false),
                    billing_type = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(150)", maxLength: 150, nullable: false),
                    measured_unit = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    price = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: false),
                    limit_amount = table.Column<long>(type: "bigint", nullable: true),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_plan_components", x => x.id);
                    table.ForeignKey(
                        name: "fk_plan_components_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_agent_files_agent_id",
                table: "agent_files",
                column: "agent_id");

            migrationBuilder.CreateIndex(
                name: "ix_agent_files_flow_version_id_node_id",
                table: "agent_files",
                columns: new[] { "flow_version_id", "node_id" });

            migrationBuilder.CreateIndex(
                name: "ix_agent_secrets_agent_id_name",
                table: "agent_secrets",
                columns: new[] { "agent_id", "name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_conversation_messages_scope_session_id_created_at",
                table: "conversation_messages",
                columns: new[] { "scope", "session_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_flow_versions_agent_id_number",
                table: "flow_versions",
                columns: new[] { "agent_id", "number" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_plan_components_plan_id",
                table: "plan_components",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_plans_agent_id",
                table: "plans",
                column: "agent_id");

            migrationBuilder.CreateIndex(
                name: "ix_provider_agents_current_flow_version_id",
                table: "provider_agents",
                column: "current_flow_version_id");

            migrationBuilder.CreateIndex(
                name: "ix_provider_agents_offering_id",
                table: "provider_agents",
                column: "offering_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_provider_agents_service_provider_id",
                table: "provider_agents",
                column: "service_provider_id");

            migrationBuilder.CreateIndex(
                name: "ix_provider_agents_state",
                table: "provider_agents",
                column: "state");

            migrationBuilder.CreateIndex(
                name: "ix_service_providers_customer_id",
                table: "service_providers",
                column: "customer_id",
                unique: true);

            migrationBuilder.AddForeignKey(
                name: "fk_agent_files_flow_versions_flow_version_id",
                table: "agent_files",
                column: "flow_version_id",
                principalTable: "flow_versions",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "fk_agent_files_provider_agents_agent_id",
                table: "agent_files",
                column: "agent_id",
                principalTable: "provider_agents",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "fk_agent_secrets_provider_agents_agent_id",
                table: "agent_secrets",
                column: "agent_id",
                principalTable: "provider_agents",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "fk_flow_versions_provider_agents_agent_id",
                table: "flow_versions",
                column: "agent_id",
                principalTable: "provider_agents",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_provider_agents_flow_versions_current_flow_version_id",
                table: "provider_agents");

            migrationBuilder.DropTable(
                name: "agent_files");

            migrationBuilder.DropTable(
                name: "agent_secrets");

            migrationBuilder.DropTable(
                name: "conversation_messages");

            migrationBuilder.DropTable(
                name: "plan_components");

            migrationBuilder.DropTable(
                name: "plans");

            migrationBuilder.DropTable(
                name: "flow_versions");

            migrationBuilder.DropTable(
                name: "provider_agents");

            migrationBuilder.DropTable(
                name: "service_providers");
        }
    }
}
