#!/usr/bin/env bash
# Gateway load benchmark (see bench/README.md, "Gateway load").
#
# For each database (SQLite, then PostgreSQL) it starts the product itself on 127.0.0.1 with a fresh
# database, provisions a published "Basic Prompting" agent (dev model), orders it and creates a secret key,
# then drives it with bench/Cmp.LoadGen from a second process, each time the bare endpoint
# (GET /health/live, a constant "Healthy") and then POST /api/agent-gateway/invoke/:
#   0. warm-up, closed loop with 4 workers, $BARE_PREWARM s (bare) and $PREWARM s (invoke), not in the
#      tables (lets the JIT tier up the hot paths);
#   1. open loop at $LOW_RATE req/s for $LOW_DURATION s (latency well below saturation);
#   2. open loop at $RATE req/s for $DURATION s after $WARMUP s warmup (the issue's target);
#   3. closed loop, $CONCURRENCY workers for $MAX_DURATION s after $MAX_WARMUP s (highest throughput).
# Between runs it waits until the server is idle again, so a backlog does not leak into the next run.
# It prints every result and, at the end, one Markdown table per database. Everything it starts
# (servers, PostgreSQL, temp files) is stopped and removed on exit.
#
# The per-key rate limiter is set out of the way (Gateway__RateLimitPerMinute=100000000); with the
# default of 60 a minute almost every request would be a 429. Invoke bodies rotate over $SESSIONS
# session ids: memory grows per session (each call stores its turn and reads the session's history).
#
# Knobs (environment): RATE DURATION WARMUP LOW_RATE LOW_DURATION PREWARM BARE_PREWARM CONCURRENCY MAX_DURATION
# MAX_WARMUP SESSIONS CONNECTIONS DATABASES ("sqlite postgres"), KEEP (a folder for results and logs),
# SERVER_ENV (extra NAME=value settings for the server, e.g. "DOTNET_gcServer=1", to compare runtime settings).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

RATE=${RATE:-500}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-32}
CONCURRENCY=${CONCURRENCY:-32}
MAX_DURATION=${MAX_DURATION:-20}
MAX_WARMUP=${MAX_WARMUP:-2}
LOW_RATE=${LOW_RATE:-50}
LOW_DURATION=${LOW_DURATION:-10}
PREWARM=${PREWARM:-10}
BARE_PREWARM=${BARE_PREWARM:-3}
SESSIONS=${SESSIONS:-16}
DATABASES=${DATABASES:-sqlite postgres}
KEEP=${KEEP:-}
SERVER_ENV=${SERVER_ENV:-}
SAMPLE="$ROOT/../shared/langflow-samples/1.7/Basic Prompting.json"
ADMIN_EMAIL=admin@cmp.local
ADMIN_PASSWORD=Quartz-Harbor-Lantern-4821

step() { printf '\n==> %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

[ -f "$SAMPLE" ] || die "missing sample: $SAMPLE"
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"

WORK=$(mktemp -d /tmp/cmp-gwbench.XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PGID=""
PG_DIR=""
PG_BIN=""
RUN_AS=()

stop_server() {
  if [ -n "$SERVER_PGID" ]; then
    kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
    SERVER_PGID=""
  fi
}
stop_postgres() {
  if [ -n "$PG_DIR" ]; then
    "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
  fi
}
cleanup() {
  stop_server
  stop_postgres
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp "$WORK"/*.jsonl "$WORK"/*.log "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Build once (Release), so the runs below start at once ------------------------------
step "Building src/Cmp.Web and bench/Cmp.LoadGen (Release)"
dotnet build src/Cmp.Web -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
dotnet build bench/Cmp.LoadGen -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
LOADGEN=(dotnet "$ROOT/bench/Cmp.LoadGen/bin/Release/net10.0/Cmp.LoadGen.dll")

# --- Throwaway PostgreSQL (as test.sh, but with PostgreSQL's default durability) --------
start_postgres() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "PostgreSQL is not installed (./test.sh installs it)"
  PG_DIR=$(mktemp -d /tmp/cmp-gwbench-pg.XXXXXX)
  PG_PORT=$(free_port)
  RUN_AS=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    RUN_AS=(runuser -u postgres --)
  fi
  "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U cmp --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=300" >/dev/null
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

# --- The product ---------------------------------------------------------------------------
start_server() { # $1 = database name, $2 = provider, $3 = connection string
  PORT=$(free_port)
  BASE=http://127.0.0.1:$PORT
  SERVER_LOG=$WORK/server-$1.log
  # setsid: the server and its child get their own process group, stopped as one.
  env ConnectionStrings__Cmp="$3" Database__Provider="$2" \
    CMP_ADMIN_EMAIL=$ADMIN_EMAIL CMP_ADMIN_PASSWORD=$ADMIN_PASSWORD CMP_LLM=dev \
    Gateway__RateLimitPerMinute=100000000 RateLimits__AuthPerMinute=100000 \
    Logging__LogLevel__Default=Warning $SERVER_ENV \
    setsid dotnet run -c Release --no-build --project src/Cmp.Web -- --urls "$BASE" >"$SERVER_LOG" 2>&1 &
  local pid=$!
  # Not a group leader, so setsid does not fork: the pid is the new group's id once setsid has run.
  for _ in $(seq 1 50); do [ "$(ps -o pgid= "$pid" | tr -d ' ')" = "$pid" ] && break; sleep 0.1; done
  [ "$(ps -o pgid= "$pid" | tr -d ' ')" = "$pid" ] || die "could not put the server in its own process group"
  SERVER_PGID=$pid
  for _ in $(seq 1 240); do
    if curl -sf "$BASE/health/ready" >/dev/null 2>&1; then echo "server ready at $BASE ($1)"; return; fi
    kill -0 "$pid" 2>/dev/null || { cat "$SERVER_LOG"; die "the server exited"; }
    sleep 0.5
  done
  cat "$SERVER_LOG"
  die "the server did not become ready in 120 s"
}

post() { # $1 = path, $2 = JSON body; prints the answer, fails on a non-2xx
  curl -sS --fail-with-body -X POST "$BASE$1" -H "$AUTH" -H 'Content-Type: application/json' -d "$2"
}

provision() {
  local token customer provider agent state plan published offering project order resource config
  token=$(curl -sS --fail-with-body -X POST "$BASE/api-auth/password/" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | j '["token"]')
  AUTH="Authorization: Token $token"
  customer=$(curl -sS --fail-with-body "$BASE/api/customers/" -H "$AUTH" | j '[0]["uuid"]')
  provider=$(post /api/marketplace-service-providers/ "{\"customer\": \"$customer\"}" | j '["uuid"]')
  agent=$(post /api/provider-agents/ "{\"service_provider\": \"$provider\", \"name\": \"Bench helper\", \"description\": \"Basic Prompting with the dev model\", \"category\": \"Assistants\"}" | j '["uuid"]')
  curl -sS --fail-with-body -X POST "$BASE/api/provider-agents/$agent/import_flow/" -H "$AUTH" -H 'Content-Type: application/json' \
    --data-binary @"$SAMPLE" >/dev/null
  for _ in $(seq 1 100); do
    state=$(curl -sS --fail-with-body "$BASE/api/provider-agents/$agent/" -H "$AUTH" | j '["runtime_state"]')
    [ "$state" = READY ] && break
    [ "$state" = FAILED ] && die "the agent's runtime FAILED"
    sleep 0.2
  done
  [ "$state" = READY ] || die "the agent is not READY ($state)"
  # Only a USAGE component: a LIMIT component would cap the calls per month.
  plan=$(post "/api/provider-agents/$agent/plans/" '{"name": "Pay as you go", "currency": "EUR", "components": [{"billing_type": "USAGE", "name": "Per call", "measured_unit": "invocation", "price": "0.002"}]}' | j '["uuid"]')
  published=$(post "/api/provider-agents/$agent/publish/" '{}')
  offering=$(echo "$published" | j '["offering_uuid"]')
  project=$(post /api/projects/ "{\"customer\": \"$customer\", \"name\": \"Bench\"}" | j '["uuid"]')
  order=$(post /api/marketplace-orders/ "{\"offering\": \"$offering\", \"plan\": \"$plan\", \"project\": \"$project\"}")
  [ "$(echo "$order" | j '["state"]')" = DONE ] || die "the order is not DONE: $order"
  resource=$(echo "$order" | j '["resource_uuid"]')
  config=$(curl -sS --fail-with-body "$BASE/api/marketplace-resources/$resource/" -H "$AUTH" | j '["config_uuid"]')
  CONFIG=$config
  KEY=$(post "/api/customer-agent-configs/$config/api_keys/" '{"name": "bench", "kind": "secret"}' | j '["key"]')
  echo "agent $agent READY, published; order DONE; config $config; key ${KEY:0:15}…"
  echo "one call: $(curl -sS --fail-with-body -X POST "$BASE/api/agent-gateway/invoke/" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d '{"input":"Hello","session_id":"bench-check"}')"
}

CLK_TCK=$(getconf CLK_TCK)
server_cpu() { # CPU ticks used so far by the server process (the app, not the dotnet run wrapper)
  local pid
  pid=$(pgrep -g "$SERVER_PGID" -x Cmp.Web | head -1)
  awk '{print $14 + $15}' "/proc/$pid/stat"
}

settle() { # waits (up to 60 s) until the server uses under 5 % of a core, so no backlog leaks into the next run
  local a b i
  for i in $(seq 1 60); do
    a=$(server_cpu); sleep 1; b=$(server_cpu)
    if [ $(((b - a) * 100 / CLK_TCK)) -lt 5 ]; then
      if [ "$i" -gt 2 ]; then echo "  (server busy for $i s after the run)"; fi
      return 0
    fi
  done
  echo "  (server still busy after 60 s)"
}

load() { # $1 = label, then Cmp.LoadGen options
  local label=$1 out c0 c1 cpu_ms
  shift
  settle
  local loadavg
  loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
  c0=$(server_cpu)
  out=$("${LOADGEN[@]}" --label "$label" --json "$@")
  c1=$(server_cpu)
  cpu_ms=$(((c1 - c0) * 1000 / CLK_TCK))
  echo "$out" | grep -v '^json: '
  echo "  server     $cpu_ms ms CPU during the run (warmup included); load average before: $loadavg"
  echo "$out" | sed -n 's/^json: //p' \
    | python3 -c "import json,sys; d=json.load(sys.stdin); d['server_cpu_ms']=$cpu_ms; d['loadavg']='$loadavg'; print(json.dumps(d))" >>"$RESULTS"
}

run_database() { # $1 = sqlite | postgres
  local db=$1 cs provider
  if [ "$db" = postgres ]; then
    step "PostgreSQL: starting a throwaway server"
    start_postgres
    cs="Host=127.0.0.1;Port=$PG_PORT;Username=cmp;Database=postgres"
    provider=postgres
  else
    cs="Data Source=$WORK/cmp.db"
    provider=sqlite
  fi
  step "$db: starting the product"
  start_server "$db" "$provider" "$cs"
  step "$db: provisioning an agent and a secret key"
  provision
  local invoke=(--url "$BASE/api/agent-gateway/invoke/" --method POST --header "Authorization: Bearer $KEY"
    --header 'Content-Type: application/json' --body '{"input":"Hello","session_id":"bench-{n}"}' --variants "$SESSIONS")
  local bare=(--url "$BASE/health/live")
  step "$db: warm-up (closed loop, 4 workers; not in the tables)"
  load "$db|bare|prewarm" "${bare[@]}" --concurrency 4 --duration "$BARE_PREWARM"
  load "$db|invoke|prewarm" "${invoke[@]}" --concurrency 4 --duration "$PREWARM"
  step "$db: open loop, $LOW_RATE req/s for ${LOW_DURATION} s"
  load "$db|bare|low" "${bare[@]}" --rate "$LOW_RATE" --duration "$LOW_DURATION" --connections "$CONNECTIONS"
  load "$db|invoke|low" "${invoke[@]}" --rate "$LOW_RATE" --duration "$LOW_DURATION" --connections "$CONNECTIONS"
  step "$db: open loop, $RATE req/s for ${DURATION} s after ${WARMUP} s warmup"
  load "$db|bare|open" "${bare[@]}" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS"
  load "$db|invoke|open" "${invoke[@]}" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --connections "$CONNECTIONS"
  step "$db: closed loop, $CONCURRENCY workers for ${MAX_DURATION} s after ${MAX_WARMUP} s warmup"
  load "$db|bare|closed" "${bare[@]}" --concurrency "$CONCURRENCY" --duration "$MAX_DURATION" --warmup "$MAX_WARMUP"
  load "$db|invoke|closed" "${invoke[@]}" --concurrency "$CONCURRENCY" --duration "$MAX_DURATION" --warmup "$MAX_WARMUP"
  step "$db: after the runs"
  settle
  local metered received
  metered=$(curl -sS --fail-with-body "$BASE/api/customer-agent-configs/$CONFIG/usage/" -H "$AUTH" | j '["total"]["invocations"]')
  received=$(python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; print(1 + sum(r["total_ok"] for r in rows if r["label"].startswith(sys.argv[2])))' "$RESULTS" "$db|invoke|")
  echo "usage records metered for the key: $metered; 2xx invoke answers the generator received (all runs and warmups, and the check call): $received"
  echo "server log: $(grep -ciE 'fail|error|exception' "$SERVER_LOG" || true) lines mention fail/error/exception; the first ones:"
  grep -iE -A3 '^(fail|crit|warn)|exception' "$SERVER_LOG" | head -24 || true
  stop_server
  if [ "$db" = postgres ]; then stop_postgres; fi
}

for db in $DATABASES; do run_database "$db"; done

step "Summary (Markdown)"
python3 - "$RESULTS" "$RATE" "$LOW_RATE" "$CONCURRENCY" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rate, low, conc = sys.argv[2], sys.argv[3], sys.argv[4]
by = {tuple(r["label"].split("|")): r for r in rows}
names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
def ratio(a, b):
    if not b:
        return "–"
    r = a / b
    return f"{r:.1f}×" if r >= 0.1 else f"{r:.3f}× (1/{1 / r:.0f})" if r > 0 else "0×"
def cpu(r):
    return r["server_cpu_ms"] / r["total"] if r["total"] else 0
for db in dict.fromkeys(k[0] for k in by):
    print(f"\n**{names.get(db, db)}**\n")
    print("| | bare `GET /health/live` | `POST /api/agent-gateway/invoke/` | invoke / bare |")
    print("|---|---:|---:|---:|")
    for mode, title in (("low", f"open loop {low} req/s"), ("open", f"open loop {rate} req/s")):
        b, i = by.get((db, "bare", mode)), by.get((db, "invoke", mode))
        if not (b and i):
            continue
        print(f"| **{title}**: achieved rate | {b['rate']:.1f} req/s | {i['rate']:.1f} req/s | |")
        for k in ("p50", "p90", "p99", "max"):
            print(f"| {k} | {b[k]:.2f} ms | {i[k]:.2f} ms | {ratio(i[k], b[k]) if k in ('p50', 'p99') else ''} |")
        print(f"| errors (non-2xx or no answer) | {b['errors']} of {b['count']} | {i['errors']} of {i['count']} | |")
        print(f"| over {i['slow_ms']:g} ms (in how many of the seconds) | {b['slow']} ({b['slow_seconds']} s) | {i['slow']} ({i['slow_seconds']} s) | |")
        print(f"| server CPU ÷ requests sent | {cpu(b):.2f} ms | {cpu(i):.2f} ms | {ratio(cpu(i), cpu(b))} |")
    b, i = by.get((db, "bare", "closed")), by.get((db, "invoke", "closed"))
    if b and i:
        print(f"| **closed loop {conc} workers**: throughput | {b['rate']:.0f} req/s | {i['rate']:.0f} req/s | {ratio(i['rate'], b['rate'])} |")
        print(f"| p50 / p99 | {b['p50']:.2f} / {b['p99']:.2f} ms | {i['p50']:.2f} / {i['p99']:.2f} ms | |")
        print(f"| errors | {b['errors']} of {b['count']} ({b['error_percent']:.2f} %) | {i['errors']} of {i['count']} ({i['error_percent']:.2f} %) | |")
        print(f"| server CPU per request | {cpu(b):.2f} ms | {cpu(i):.2f} ms | {ratio(cpu(i), cpu(b))} |")
    i = by.get((db, "invoke", "open"))
    if i:
        met = i["p50"] < 2 and i["p99"] < 10 and i["errors"] == 0
        print(f"\nTarget at {rate} req/s (p50 < 2 ms, p99 < 10 ms, no errors): **{'met' if met else 'not met'}**"
              f" (p50 {i['p50']:.2f} ms, p99 {i['p99']:.2f} ms, {i['errors']} errors of {i['count']}).")
PY
