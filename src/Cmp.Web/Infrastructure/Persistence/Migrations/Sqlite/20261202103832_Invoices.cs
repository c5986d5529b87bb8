using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cmp.Web.Infrastructure.Persistence.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Invoices : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "billing_closures",
                columns: table => new
                {
                    period = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    closed_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    invoices = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_billing_closures", x => x.period);
                });

            migrationBuilder.CreateTable(
                name: "invoices",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    customer_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    year = table.Column<int>(type: "INTEGER", nullable: false),
                    month = table.Column<int>(type: "INTEGER", nullable: false),
                    currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    state = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    total = table.Column<decimal>(type: "TEXT", precision: 18, scale: 6, nullable: false),
                    closed_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    paid_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    canceled_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    marked_by_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    version = table.Column<Guid>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invoices", x => x.id);
                    table.ForeignKey(
                        name: "fk_invoices_customers_customer_id",
                        column: x => x.customer_id,
                        principalTable: "customers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "job_leases",
                columns: table => new
                {
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    holder = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    expires_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_job_leases", x => x.name);
                });

            migrationBuilder.CreateTable(
                name: "invoice_items",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    invoice_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    resource_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    resource_name = table.Column<string>(type: "TEXT", maxLength: 150, nullable: false),
                    provider_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    offering_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    offering_name = table.Column<string>(type: "TEXT", maxLength: 150, nullable: false),
                    plan_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    plan_name = table.Column<string>(type: "TEXT", maxLength: 150, nullable: false),
                    component_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    component_name = table.Column<string>(type: "TEXT", maxLength: 150, nullable: false),
                    billing_type = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    unit = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    quantity = table.Column<decimal>(type: "TEXT", precision: 18, scale: 6, nullable: false),
                    unit_price = table.Column<decimal>(type: "TEXT", precision: 18, scale: 6, nullable: false),
                    days_in_month = table.Column<int>(type: "INTEGER", nullable: true),
                    total = table.Column<decimal>(type: "TEXT", precision: 18, scale: 6, nullable: false),
                    start = table.Column<DateTime>(type: "TEXT", nullable: false),
                    end = table.Column<DateTime>(type: "TEXT", nullable: false),
                    position = table.Column<int>(type: "INTEGER", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invoice_items", x => x.id);
                    table.ForeignKey(
                        name: "fk_invoice_items_invoices_invoice_id",
                        column: x => x.invoice_id,
                        principalTable: "invoices",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_invoice_items_invoice_id_position",
                table: "invoice_items",
                columns: new[] { "invoice_id", "position" });

            migrationBuilder.CreateIndex(
                name: "ix_invoice_items_provider_id",
                table: "invoice_items",
                column: "provider_id");

            migrationBuilder.CreateIndex(
                name: "ix_invoices_customer_id_year_month_currency",
                table: "invoices",
                columns: new[] { "customer_id", "year", "month", "currency" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_invoices_year_month_state",
                table: "invoices",
                columns: new[] { "year", "month", "state" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "billing_closures");

            migrationBuilder.DropTable(
                name: "invoice_items");

            migrationBuilder.DropTable(
                name: "job_leases");

            migrationBuilder.DropTable(
                name: "invoices");
        }
    }
}
