using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class MoneyRules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_usage_records_config_id_idempotency_key",
                table: "usage_records");

            migrationBuilder.DropColumn(
                name: "idempotency_key",
                table: "usage_records");

            migrationBuilder.DropColumn(
                name: "response",
                table: "usage_records");

            migrationBuilder.AlterColumn<string>(
                name: "status",
                table: "usage_records",
                type: "character varying(40)",
                maxLength: 40,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(20)",
                oldMaxLength: 20);

            migrationBuilder.AddColumn<Guid>(
                name: "plan_id",
                table: "usage_records",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "widget",
                table: "usage_records",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "cap_counters",
                columns: table => new
                {
                    resource_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<Guid>(type: "uuid", nullable: false),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false),
                    used = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cap_counters", x => new { x.resource_id, x.plan_id, x.period });
                    table.ForeignKey(
                        name: "fk_cap_counters_resources_resource_id",
                        column: x => x.resource_id,
                        principalTable: "resources",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "idempotency_records",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    scope = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: false),
                    idempotency_key = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    fingerprint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    state = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    response = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_idempotency_records", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "plan_periods",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    resource_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<Guid>(type: "uuid", nullable: false),
                    starts_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    ends_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_plan_periods", x => x.id);
                    table.ForeignKey(
                        name: "fk_plan_periods_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_plan_periods_resources_resource_id",
                        column: x => x.resource_id,
                        principalTable: "resources",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_idempotency_records_created_at",
                table: "idempotency_records",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "ix_idempotency_records_scope_idempotency_key",
                table: "idempotency_records",
                columns: new[] { "scope", "idempotency_key" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_plan_periods_plan_id",
                table: "plan_periods",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_plan_periods_resource_id_starts_at",
                table: "plan_periods",
                columns: new[] { "resource_id", "starts_at" });
            // Statuses become UsageStatus names; each record and each resource learns its plan (periods from activation to termination).
            migrationBuilder.Sql("UPDATE usage_records SET status = CASE status WHEN 'ok' THEN 'Completed' WHEN 'error' THEN 'Failed' ELSE status END;");
            migrationBuilder.Sql("UPDATE usage_records SET plan_id = (SELECT r.plan_id FROM resources r WHERE r.id = usage_records.resource_id);");
            migrationBuilder.Sql("""
                INSERT INTO plan_periods (id, resource_id, plan_id, starts_at, ends_at, created_at)
                SELECT id, id, plan_id, COALESCE(activated_at, created_at), terminated_at, created_at FROM resources
                WHERE state IN ('Ok', 'Terminating', 'Terminated');
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("UPDATE usage_records SET status = CASE status WHEN 'Completed' THEN 'ok' WHEN 'ClientClosed' THEN 'ok' ELSE 'error' END;");

            migrationBuilder.DropTable(
                name: "cap_counters");

            migrationBuilder.DropTable(
                name: "idempotency_records");

            migrationBuilder.DropTable(
                name: "plan_periods");

            migrationBuilder.DropColumn(
                name: "plan_id",
                table: "usage_records");

            migrationBuilder.DropColumn(
                name: "widget",
                table: "usage_records");

            migrationBuilder.AlterColumn<string>(
                name: "status",
                table: "usage_records",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(40)",
                oldMaxLength: 40);

            migrationBuilder.AddColumn<string>(
                name: "idempotency_key",
                table: "usage_records",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "response",
                table: "usage_records",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_usage_records_config_id_idempotency_key",
                table: "usage_records",
                columns: new[] { "config_id", "idempotency_key" },
                unique: true);
        }
    }
}
