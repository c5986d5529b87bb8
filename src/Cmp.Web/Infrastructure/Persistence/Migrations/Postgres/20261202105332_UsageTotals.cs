using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class UsageTotals : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "usage_totals",
                columns: table => new
                {
                    resource_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<Guid>(type: "uuid", nullable: false),
                    period = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false),
                    invocations = table.Column<long>(type: "bigint", nullable: false),
                    tokens = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_totals", x => new { x.resource_id, x.plan_id, x.period });
                });

            migrationBuilder.CreateIndex(
                name: "ix_usage_totals_period",
                table: "usage_totals",
                column: "period");

            // The records already metered, summed once; from now on the metering transaction keeps the totals.
            migrationBuilder.Sql("""
                INSERT INTO usage_totals (resource_id, plan_id, period, invocations, tokens)
                SELECT resource_id, COALESCE(plan_id, '00000000-0000-0000-0000-000000000000'::uuid), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'), COUNT(*), SUM(input_tokens + output_tokens)
                FROM usage_records
                GROUP BY resource_id, COALESCE(plan_id, '00000000-0000-0000-0000-000000000000'::uuid), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM');
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "usage_totals");
        }
    }
}
