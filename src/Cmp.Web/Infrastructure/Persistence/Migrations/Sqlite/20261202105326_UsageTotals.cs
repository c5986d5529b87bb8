using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Sqlite
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
                    resource_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    plan_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    period = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    invocations = table.Column<long>(type: "INTEGER", nullable: false),
                    tokens = table.Column<long>(type: "INTEGER", nullable: false)
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
                SELECT resource_id, COALESCE(plan_id, '00000000-0000-0000-0000-000000000000'), substr(created_at, 1, 7), COUNT(*), SUM(input_tokens + output_tokens)
                FROM usage_records
                GROUP BY resource_id, COALESCE(plan_id, '00000000-0000-0000-0000-000000000000'), substr(created_at, 1, 7);
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
