using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cmp.Web.Features.Billing;

/// <summary>
/// The benchmark's data, written by PostgreSQL itself (generate_series) so that seeding 10 million records takes
/// minutes, not hours. Ids are <c>md5(prefix || n)::uuid</c>, so the program can name any row without reading it.
/// <list type="bullet">
/// <item>Organizations 0..C−1 buy, organization C sells (one provider, 50 agents, two plans each: Basic = FIXED 29.99 +
/// 0.004 per call + setup 10.00; Pro = FIXED 99.00 + 0.002 per 1k tokens + LIMIT 20.00 for 100,000 calls; every fifth
/// agent prices in USD).</item>
/// <item>Resource k belongs to organization 0 when k &lt; 100 (the one whose pending invoice is read), else to 1 + (k −
/// 100) mod (C − 1); activated between 10 days before last month and its 25th day; one in ten switches plan on day 12 or
/// later; one in twenty (outside organization 0) is terminated nine days after activation.</item>
/// <item>N usage records spread over last month and the resources (ids in insertion order, as the server's version 7
/// ids are; random ones would make the seeding, not the close, the slow part); organization 0's 100 resources get
/// <c>--current-per-resource</c> records each in the current month so far.</item>
/// </list>
/// </summary>
internal static class Seeds
{
    public static Guid Id(string prefix, long n) =>
        Guid.ParseExact(Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(prefix + n.ToString(CultureInfo.InvariantCulture)))), "N");

    private static string Ts(DateTime utc) => $"'{utc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}+00'::timestamptz";

    public static IEnumerable<(string Label, string Sql)> Sql(Options o, BillingMonth last, BillingMonth current, DateTime now)
    {
        var c = o.Customers;
        var r = o.Resources;
        var lastSeconds = (long)(last.End - last.Start).TotalSeconds;
        var currentSeconds = Math.Max(60, (long)(now - current.Start).TotalSeconds - 60);
        yield return ("organizations, owners, projects", $"""
            INSERT INTO users (id, created_at, email, email_verified, failed_sign_in_count, full_name, is_active, is_staff, password_hash, version)
            SELECT md5('u' || i)::uuid, now(), 'owner' || i || '@bench.test', true, 0, 'Owner ' || i, true, false, NULL, gen_random_uuid() FROM generate_series(0, {c}) i;
            INSERT INTO customers (id, abbreviation, created_at, description, email, name, version)
            SELECT md5('c' || i)::uuid, '', now(), '', '', 'Organization ' || i, gen_random_uuid() FROM generate_series(0, {c}) i;
            INSERT INTO customer_permissions (id, created_at, created_by_id, customer_id, role, user_id)
            SELECT md5('cp' || i)::uuid, now(), NULL, md5('c' || i)::uuid, 'Owner', md5('u' || i)::uuid FROM generate_series(0, {c}) i;
            INSERT INTO projects (id, created_at, customer_id, description, name, version)
            SELECT md5('p' || i)::uuid, now(), md5('c' || i)::uuid, '', 'Website', gen_random_uuid() FROM generate_series(0, {c}) i;
            """);
        yield return ("provider, agents, plans", $"""
            INSERT INTO service_providers (id, approved_at, approved_by_id, created_at, created_by_id, customer_id, state, version)
            VALUES (md5('sp')::uuid, now(), NULL, now(), md5('u' || {c})::uuid, md5('c' || {c})::uuid, 'Active', gen_random_uuid());
            INSERT INTO provider_agents (id, category, created_at, current_flow_version_id, description, name, offering_id, requires_provider_approval, runtime_error, runtime_state, service_provider_id, state, version)
            SELECT md5('a' || j)::uuid, 'Assistants', now(), NULL, '', 'Agent ' || j, md5('o' || j)::uuid, false, NULL, 'NotDeployed', md5('sp')::uuid, 'Active', gen_random_uuid() FROM generate_series(0, 49) j;
            INSERT INTO flow_versions (id, agent_id, created_at, created_by_id, json, number, remote_flow_id, sha256, summary)
            SELECT md5('fv' || j)::uuid, md5('a' || j)::uuid, now(), md5('u' || {c})::uuid, chr(123) || chr(125), 1, NULL, '', chr(123) || chr(125) FROM generate_series(0, 49) j;
            UPDATE provider_agents SET current_flow_version_id = md5('fv' || substr(name, 7))::uuid;
            INSERT INTO plans (id, agent_id, archived_at, created_at, currency, description, name, rate_limit_per_minute, version)
            SELECT md5('pb' || j)::uuid, md5('a' || j)::uuid, NULL::timestamptz, now(), CASE WHEN j % 5 = 4 THEN 'USD' ELSE 'EUR' END, '', 'Basic', NULL::int, gen_random_uuid() FROM generate_series(0, 49) j
            UNION ALL
            SELECT md5('pp' || j)::uuid, md5('a' || j)::uuid, NULL::timestamptz, now(), CASE WHEN j % 5 = 4 THEN 'USD' ELSE 'EUR' END, '', 'Pro', NULL::int, gen_random_uuid() FROM generate_series(0, 49) j;
            INSERT INTO plan_components (id, billing_type, created_at, limit_amount, measured_unit, name, plan_id, price)
            SELECT gen_random_uuid(), t.billing_type, now(), t.limit_amount, t.unit, t.name, md5(t.plan || j)::uuid, t.price
            FROM generate_series(0, 49) j CROSS JOIN (VALUES
                ('pb', 'Fixed', NULL::bigint, '', 'Monthly fee', 29.99), ('pb', 'Usage', NULL, 'invocation', 'Per call', 0.004), ('pb', 'OneTime', NULL, '', 'Setup', 10.00),
                ('pp', 'Fixed', NULL, '', 'Monthly fee', 99.00), ('pp', 'Usage', NULL, '1k_tokens', 'Per 1k tokens', 0.002), ('pp', 'Limit', 100000, 'invocation', 'Tier', 20.00)
            ) AS t(plan, billing_type, limit_amount, unit, name, price);
            """);
        yield return ("resources, configs, plan periods", $"""
            CREATE TABLE bench_res AS
            SELECT k, md5('r' || k)::uuid AS id,
                   CASE WHEN k < 100 THEN 0 ELSE 1 + ((k - 100) % ({c} - 1)) END AS customer,
                   k % 50 AS agent,
                   md5(CASE WHEN k % 3 = 0 THEN 'pp' ELSE 'pb' END || (k % 50))::uuid AS plan0,
                   md5(CASE WHEN k % 3 = 0 THEN 'pb' ELSE 'pp' END || (k % 50))::uuid AS plan1,
                   {Ts(last.Start)} - interval '10 days' + ((k::bigint * 7919) % (35 * 24)) * interval '1 hour' AS activated
            FROM generate_series(0, {r} - 1) k;
            ALTER TABLE bench_res ADD COLUMN switch_at timestamptz, ADD COLUMN terminated timestamptz;
            UPDATE bench_res SET switch_at = greatest(activated, {Ts(last.Start)}) + interval '12 days' + (k % 24) * interval '1 hour' WHERE k % 10 = 1;
            UPDATE bench_res SET terminated = activated + interval '9 days 5 hours' WHERE k % 20 = 7 AND k >= 100;
            CREATE UNIQUE INDEX ON bench_res (k);
            INSERT INTO resources (id, activated_at, agent_id, created_at, customer_id, flow_version_id, name, order_id, plan_id, project_id, state, terminated_at, version)
            SELECT id, activated, md5('a' || agent)::uuid, activated, md5('c' || customer)::uuid, md5('fv' || agent)::uuid, 'Agent ' || agent || ' #' || k,
                   md5('order' || k)::uuid, CASE WHEN switch_at IS NULL THEN plan0 ELSE plan1 END, md5('p' || customer)::uuid,
                   CASE WHEN terminated IS NULL THEN 'Ok' ELSE 'Terminated' END, terminated, gen_random_uuid()
            FROM bench_res;
            INSERT INTO agent_configs (id, agent_name, allowed_domains, avatar_url, created_at, customer_id, greeting, position, primary_color, resource_id, secondary_color, system_prompt, theme, tone, version)
            SELECT md5('cfg' || k)::uuid, 'Agent', '', '', activated, md5('c' || customer)::uuid, '', 'bottom-right', '#000000', id, '#ffffff', '', 'auto', 'professional', gen_random_uuid() FROM bench_res;
            INSERT INTO plan_periods (id, created_at, ends_at, plan_id, resource_id, starts_at)
            SELECT gen_random_uuid(), activated, coalesce(switch_at, terminated), plan0, id, activated FROM bench_res
            UNION ALL
            SELECT gen_random_uuid(), switch_at, NULL, plan1, id, switch_at FROM bench_res WHERE switch_at IS NOT NULL;
            """);
        yield return ($"{o.Records:N0} usage records last month", $"""
            INSERT INTO usage_records (id, api_key_id, config_id, created_at, input_tokens, latency_ms, output_tokens, plan_id, request_id, resource_id, session_id, status, widget)
            SELECT lpad(to_hex(i), 32, '0')::uuid, NULL, md5('cfg' || b.k)::uuid, x.t, 20 + (i % 300), 100, 50 + (i % 500),
                   CASE WHEN b.switch_at IS NOT NULL AND x.t >= b.switch_at THEN b.plan1 ELSE b.plan0 END,
                   'r' || i, b.id, 's' || (i % 997), 'Completed', false
            FROM generate_series(1::bigint, {o.Records}::bigint) i
            CROSS JOIN LATERAL (SELECT {Ts(last.Start)} + ((i * 104729) % {lastSeconds}) * interval '1 second' AS t) x
            JOIN bench_res b ON b.k = (i * 7919) % {r};
            """);
        yield return ($"{100L * o.CurrentPerResource:N0} usage records this month (organization 0)", $"""
            INSERT INTO usage_records (id, api_key_id, config_id, created_at, input_tokens, latency_ms, output_tokens, plan_id, request_id, resource_id, session_id, status, widget)
            SELECT lpad(to_hex(i + {o.Records}), 32, '0')::uuid, NULL, md5('cfg' || b.k)::uuid, {Ts(current.Start)} + ((i * 104729) % {currentSeconds}) * interval '1 second', 20 + (i % 300), 100, 50 + (i % 500),
                   CASE WHEN b.switch_at IS NULL THEN b.plan0 ELSE b.plan1 END, 'c' || i, b.id, 's' || (i % 997), 'Completed', false
            FROM generate_series(1::bigint, {100L * o.CurrentPerResource}::bigint) i
            JOIN bench_res b ON b.k = i % 100;
            DROP TABLE bench_res;
            """);
        // What the metering transaction keeps beside each record (as the UsageTotals migration backfills it).
        yield return ("usage totals from the records", """
            INSERT INTO usage_totals (resource_id, plan_id, period, invocations, tokens)
            SELECT resource_id, COALESCE(plan_id, '00000000-0000-0000-0000-000000000000'::uuid), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'), COUNT(*), SUM(input_tokens + output_tokens)
            FROM usage_records
            GROUP BY resource_id, COALESCE(plan_id, '00000000-0000-0000-0000-000000000000'::uuid), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM');
            """);
        yield return ("vacuum analyze", "VACUUM ANALYZE");
    }
}
