#!/usr/bin/env bash
# Parallel abuse of the gateway's money rules (see bench/README.md, "Parallel abuse (money rules)").
#
# For each setup (SQLite; PostgreSQL; PostgreSQL shared by two server processes with one redis-server) it starts
# the product on 127.0.0.1 with a fresh database, provisions one published "Basic Prompting" agent (dev model)
# with two plans, orders it twice (a capped resource and an open one) and creates a secret key for each, then
# drives it with bench/Cmp.Abuse from a second process:
#   1. burst: $CALLS JSON calls at once on the plan with a LIMIT of $CAP invocations a month. Exactly $CAP must be
#      200 and the rest 429 /problems/limit-reached; the capped resource must have $CAP usage records and its
#      cap counter must say $CAP.
#   2. hangup: $STREAMS streamed calls, $CONCURRENCY at a time, on the plan without a LIMIT; each client reads to the
#      end or hangs up at a seeded random point after the 200 headers (Cmp.Abuse's usage tells the shares). After
#      the usage records stop changing, each call's record is found by its session id and compared with what the
#      client did: read to end = Completed, hung up before "event: end" = ClientClosed, one record per started call.
# With two servers, the calls alternate between them. Both plans have rate_limit_per_minute=100000 (the most a plan
# may have) and the servers Gateway__RateLimitPerMinute=100000000, so no call is rate limited.
# Everything it starts (servers, PostgreSQL, redis-server, temp files) is stopped and removed on exit.
#
# Knobs (environment): SETUPS ("sqlite postgres redis"), CALLS (200), CAP (50), STREAMS (1000), CONCURRENCY (48),
# SEED (1), INPUT_WORDS (2000: the streamed input, so the answer, is that many short words), KEEP (a folder for the
# results, per-call logs and server logs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

SETUPS=${SETUPS:-sqlite postgres redis}
CALLS=${CALLS:-200}
CAP=${CAP:-50}
STREAMS=${STREAMS:-1000}
CONCURRENCY=${CONCURRENCY:-48}
SEED=${SEED:-1}
INPUT_WORDS=${INPUT_WORDS:-2000}
KEEP=${KEEP:-}
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

WORK=$(mktemp -d /tmp/cmp-abuse.XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PGIDS=()
SERVER_LOGS=()
BASES=()
PG_DIR=""
PG_BIN=""
RUN_AS=()
REDIS_PID=""

stop_servers() {
  local pgid
  for pgid in "${SERVER_PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  for pgid in "${SERVER_PGIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
  SERVER_PGIDS=()
  BASES=()
}
stop_postgres() {
  if [ -n "$PG_DIR" ]; then
    "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
  fi
}
stop_redis() {
  if [ -n "$REDIS_PID" ]; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
  fi
}
cleanup() {
  stop_servers
  stop_postgres
  stop_redis
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp "$WORK"/*.jsonl "$WORK"/*.tsv "$WORK"/*.log "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Building src/Cmp.Web and bench/Cmp.Abuse (Release)"
dotnet build src/Cmp.Web -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
dotnet build bench/Cmp.Abuse -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
ABUSE=(dotnet "$ROOT/bench/Cmp.Abuse/bin/Release/net10.0/Cmp.Abuse.dll")

# The streamed input: INPUT_WORDS short words; the dev model answers "[dev] " + the input (+ the system text), word by word.
INPUT_FILE=$WORK/input.txt
python3 -c "import sys; n=int(sys.argv[1]); print(' '.join(f'w{i % 100}' for i in range(n)), end='')" "$INPUT_WORDS" >"$INPUT_FILE"

start_postgres() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "PostgreSQL is not installed (./test.sh installs it)"
  PG_DIR=$(mktemp -d /tmp/cmp-abuse-pg.XXXXXX)
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

start_redis() {
  REDIS_PORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null || die "redis-server did not start"
  echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$REDIS_PORT"
}

start_server() { # $1 = log name, then NAME=value settings
  local name=$1 port base log pid
  shift
  port=$(free_port)
  base=http://127.0.0.1:$port
  log=$WORK/server-$name.log
  env "$@" CMP_ADMIN_EMAIL=$ADMIN_EMAIL CMP_ADMIN_PASSWORD=$ADMIN_PASSWORD CMP_LLM=dev \
    Gateway__RateLimitPerMinute=100000000 RateLimits__AuthPerMinute=100000 Logging__LogLevel__Default=Warning \
    setsid dotnet run -c Release --no-build --project src/Cmp.Web -- --urls "$base" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do [ "$(ps -o pgid= "$pid" | tr -d ' ')" = "$pid" ] && break; sleep 0.1; done
  [ "$(ps -o pgid= "$pid" | tr -d ' ')" = "$pid" ] || die "could not put the server in its own process group"
  SERVER_PGIDS+=("$pid")
  SERVER_LOGS+=("$log")
  for _ in $(seq 1 240); do
    if curl -sf "$base/health/ready" >/dev/null 2>&1; then
      echo "server ready at $base ($name)"
      BASES+=("$base")
      return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log"; die "the server exited"; }
    sleep 0.5
  done
  cat "$log"
  die "the server did not become ready in 120 s"
}

post() { # $1 = path, $2 = JSON body; prints the answer, fails on a non-2xx
  curl -sS --fail-with-body -X POST "${BASES[0]}$1" -H "$AUTH" -H 'Content-Type: application/json' -d "$2"
}

order() { # $1 = offering, $2 = plan, $3 = project; sets RESOURCE and KEY
  local answer config
  answer=$(post /api/marketplace-orders/ "{\"offering\": \"$1\", \"plan\": \"$2\", \"project\": \"$3\"}")
  [ "$(echo "$answer" | j '["state"]')" = DONE ] || die "the order is not DONE: $answer"
  RESOURCE=$(echo "$answer" | j '["resource_uuid"]')
  config=$(curl -sS --fail-with-body "${BASES[0]}/api/marketplace-resources/$RESOURCE/" -H "$AUTH" | j '["config_uuid"]')
  KEY=$(post "/api/customer-agent-configs/$config/api_keys/" '{"name": "abuse", "kind": "secret"}' | j '["key"]')
}

provision() { # sets CAPPED_RESOURCE, CAPPED_KEY, OPEN_RESOURCE, OPEN_KEY
  local base=${BASES[0]} token customer provider agent state capped open offering project
  token=$(curl -sS --fail-with-body -X POST "$base/api-auth/password/" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | j '["token"]')
  AUTH="Authorization: Token $token"
  customer=$(curl -sS --fail-with-body "$base/api/customers/" -H "$AUTH" | j '[0]["uuid"]')
  provider=$(post /api/marketplace-service-providers/ "{\"customer\": \"$customer\"}" | j '["uuid"]')
  agent=$(post /api/provider-agents/ "{\"service_provider\": \"$provider\", \"name\": \"Abuse helper\", \"description\": \"Basic Prompting with the dev model\", \"category\": \"Assistants\"}" | j '["uuid"]')
  curl -sS --fail-with-body -X POST "$base/api/provider-agents/$agent/import_flow/" -H "$AUTH" -H 'Content-Type: application/json' \
    --data-binary @"$SAMPLE" >/dev/null
  for _ in $(seq 1 100); do
    state=$(curl -sS --fail-with-body "$base/api/provider-agents/$agent/" -H "$AUTH" | j '["runtime_state"]')
    [ "$state" = READY ] && break
    [ "$state" = FAILED ] && die "the agent's runtime FAILED"
    sleep 0.2
  done
  [ "$state" = READY ] || die "the agent is not READY ($state)"
  capped=$(post "/api/provider-agents/$agent/plans/" "{\"name\": \"Capped\", \"currency\": \"EUR\", \"rate_limit_per_minute\": 100000, \"components\": [{\"billing_type\": \"LIMIT\", \"measured_unit\": \"invocation\", \"limit_amount\": $CAP, \"price\": \"0\", \"name\": \"Included\"}]}" | j '["uuid"]')
  open=$(post "/api/provider-agents/$agent/plans/" '{"name": "Pay as you go", "currency": "EUR", "rate_limit_per_minute": 100000, "components": [{"billing_type": "USAGE", "name": "Per call", "measured_unit": "invocation", "price": "0.002"}]}' | j '["uuid"]')
  offering=$(post "/api/provider-agents/$agent/publish/" '{}' | j '["offering_uuid"]')
  project=$(post /api/projects/ "{\"customer\": \"$customer\", \"name\": \"Abuse\"}" | j '["uuid"]')
  order "$offering" "$capped" "$project"
  CAPPED_RESOURCE=$RESOURCE CAPPED_KEY=$KEY
  order "$offering" "$open" "$project"
  OPEN_RESOURCE=$RESOURCE OPEN_KEY=$KEY
  echo "agent $agent READY, published; capped resource $CAPPED_RESOURCE (LIMIT $CAP), open resource $OPEN_RESOURCE"
}

sql() { # $1 = query; prints the rows, tab-separated
  if [ "$DB" = sqlite ]; then
    python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); [print("\t".join(map(str, r))) for r in c.execute(sys.argv[2])]' "$WORK/cmp.db" "$1"
  else
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U cmp -d postgres -AtF $'\t' -c "$1"
  fi
}
of_resource() { # $1 = resource uuid (32 hex digits, as the API gives it): a WHERE condition on resource_id
  if [ "$DB" = sqlite ]; then echo "upper(replace(resource_id, '-', '')) = upper('$1')"; else echo "resource_id = '$1'::uuid"; fi
}
settle_usage() { # $1 = resource; waits until its usage records stop changing (3 s alike, at most 120 s), prints the count
  local last=-1 same=0 n
  for _ in $(seq 1 120); do
    n=$(sql "SELECT count(*) FROM usage_records WHERE $(of_resource "$1")")
    if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; fi
    [ "$same" -ge 3 ] && break
    last=$n
    sleep 1
  done
  echo "$n"
}

run_setup() { # $1 = sqlite | postgres | redis
  local setup=$1 urls=() out tokens check records used base
  SERVER_LOGS=()
  step "$setup: starting"
  if [ "$setup" = sqlite ]; then
    DB=sqlite
    start_server sqlite Database__Provider=sqlite ConnectionStrings__Cmp="Data Source=$WORK/cmp.db"
  else
    DB=postgres
    start_postgres
    local cs="Host=127.0.0.1;Port=$PG_PORT;Username=cmp;Database=postgres"
    if [ "$setup" = postgres ]; then
      start_server postgres Database__Provider=postgres ConnectionStrings__Cmp="$cs"
    else
      start_redis
      start_server redis-a Database__Provider=postgres ConnectionStrings__Cmp="$cs" Redis__Configuration="127.0.0.1:$REDIS_PORT"
      start_server redis-b Database__Provider=postgres ConnectionStrings__Cmp="$cs" Redis__Configuration="127.0.0.1:$REDIS_PORT"
    fi
  fi
  for base in "${BASES[@]}"; do urls+=(--url "$base"); done
  step "$setup: provisioning"
  provision

  step "$setup: warming every server up: 20 JSON calls with the open key, 1 call with the capped key and an empty body (400, before the cap)"
  for base in "${BASES[@]}"; do
    for i in $(seq 1 20); do
      curl -sS --fail-with-body -o /dev/null -X POST "$base/api/agent-gateway/invoke/" -H "Authorization: Bearer $OPEN_KEY" \
        -H 'Content-Type: application/json' -d "{\"input\":\"Hello\",\"session_id\":\"warm-$i\"}"
    done
    [ "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/api/agent-gateway/invoke/" -H "Authorization: Bearer $CAPPED_KEY" \
      -H 'Content-Type: application/json' -d '{}')" = 400 ] || die "the capped key's empty call is not a 400"
  done

  step "$setup: burst, $CALLS JSON calls at once on a LIMIT of $CAP, over ${#BASES[@]} server(s)"
  out=$("${ABUSE[@]}" burst "${urls[@]}" --key "$CAPPED_KEY" --calls "$CALLS" --session-prefix "burst-$setup")
  echo "$out"
  records=$(settle_usage "$CAPPED_RESOURCE")
  used=$(sql "SELECT used FROM cap_counters WHERE $(of_resource "$CAPPED_RESOURCE")")
  local statuses
  statuses=$(sql "SELECT status, count(*) FROM usage_records WHERE $(of_resource "$CAPPED_RESOURCE") GROUP BY status ORDER BY status" | tr '\t\n' '= ' | sed 's/ $//')
  echo "usage records of the capped resource: $records ($statuses); cap_counters.used: $used"
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(setup=sys.argv[1], kind='burst', cap=int(sys.argv[2]), records=int(sys.argv[3]), record_statuses=sys.argv[4], cap_used=int(sys.argv[5] or 0)); print(json.dumps(d))" \
    "$setup" "$CAP" "$records" "$statuses" "$used" >>"$RESULTS"

  step "$setup: one streamed check call of $INPUT_WORDS words"
  check=$(curl -sS --fail-with-body -N -X POST "${BASES[0]}/api/agent-gateway/invoke/" -H "Authorization: Bearer $OPEN_KEY" -H 'Content-Type: application/json' \
    --data-binary @<(python3 -c 'import json,sys; print(json.dumps({"input": open(sys.argv[1]).read(), "session_id": "check", "stream": True}))' "$INPUT_FILE"))
  tokens=$(grep -c '^event: token$' <<<"$check" || true)
  grep -q '^event: end$' <<<"$check" || die "the check call has no event: end"
  echo "answer: $tokens tokens, $(wc -c <<<"$check") bytes of events"

  step "$setup: hangup, $STREAMS streamed calls, $CONCURRENCY at a time, seed $SEED"
  local calls=$WORK/calls-$setup.jsonl
  out=$("${ABUSE[@]}" hangup "${urls[@]}" --key "$OPEN_KEY" --calls "$STREAMS" --concurrency "$CONCURRENCY" --seed "$SEED" \
    --tokens "$tokens" --input @"$INPUT_FILE" --log "$calls" --session-prefix "hangup-$setup")
  echo "$out"
  records=$(settle_usage "$OPEN_RESOURCE")
  echo "usage records of the open resource (with the check call): $records"
  local at="extract(epoch from created_at)"
  if [ "$DB" = sqlite ]; then at="(julianday(created_at) - 2440587.5) * 86400.0"; fi
  sql "SELECT session_id, status, $at FROM usage_records WHERE $(of_resource "$OPEN_RESOURCE")" >"$WORK/records-$setup.tsv"
  python3 - "$setup" "$calls" "$WORK/records-$setup.tsv" "$tokens" <<'PY' >>"$RESULTS"
import collections, json, sys
setup, log, records, tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
calls = [json.loads(l) for l in open(log) if l.strip()]
by_session = collections.defaultdict(list)
for line in open(records):
    session, status, at = line.rstrip("\n").split("\t")
    by_session[session].append((status, float(at)))
def kind(c):
    if not c["started"]:
        return "not started"
    if c["saw_end"]:
        return "read to end"
    if c["tokens_read"] == 0:
        return "hung up before the first token"
    return "hung up after the last token, before end" if c["tokens_read"] >= tokens else "hung up mid-stream"
table = collections.defaultdict(collections.Counter)
# For each hung-up call with its one record: did the client hang up before or after the server created the record?
# The record's created_at is taken right after the server decided the status (GatewayRun.MeterAsync).
timing = collections.defaultdict(lambda: {"before": [], "after": []})
for c in calls:
    got = by_session.get(c["session"], [])
    table[kind(c)]["none" if not got else got[0][0] if len(got) == 1 else "more than one"] += 1
    if c["hung_up"] and c["hung_up_at"] is not None and len(got) == 1:
        status, at = got[0]
        gap_ms = (at - c["hung_up_at"]) * 1000
        timing[status]["before" if gap_ms >= 0 else "after"].append(abs(gap_ms))
def spread(gaps):
    gaps = sorted(gaps)
    return {"n": len(gaps), "median_ms": round(gaps[len(gaps) // 2], 2), "max_ms": round(gaps[-1], 2)} if gaps else {"n": 0}
timing = {status: {side: spread(g) for side, g in t.items()} for status, t in timing.items()}
ours = {c["session"] for c in calls}
print(json.dumps({
    "setup": setup, "kind": "hangup-join", "tokens": tokens,
    "table": {k: dict(v) for k, v in table.items()},
    "timing": timing,
    "records": sum(len(v) for s, v in by_session.items() if s in ours),
    "records_not_ours": dict(collections.Counter(x[0] for s, v in by_session.items() if s not in ours for x in v)),
    "started": sum(c["started"] for c in calls),
}))
PY
  tail -1 "$RESULTS"
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(setup=sys.argv[1], kind='hangup'); print(json.dumps(d))" "$setup" >>"$RESULTS"
  if [ "$setup" = redis ]; then
    echo "redis: $(redis-cli -p "$REDIS_PORT" info commandstats | grep -E '^cmdstat_(evalsha|publish):' | tr '\r\n' '  ')"
  fi
  local log
  for log in "${SERVER_LOGS[@]}"; do
    echo "$(basename "$log"): $(grep -ciE 'fail|error|exception' "$log" || true) lines mention fail/error/exception"
    grep -iE -A3 '^(fail|crit)|exception' "$log" | head -12 || true
  done
  stop_servers
  stop_postgres
  stop_redis
}

for setup in $SETUPS; do run_setup "$setup"; done

step "Summary (Markdown)"
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = {"sqlite": "SQLite", "postgres": "PostgreSQL", "redis": "PostgreSQL + Redis, 2 servers"}
bursts = [r for r in rows if r["kind"] == "burst"]
if bursts:
    print("| Setup | calls | 200 | 429 limit-reached | other answers | usage records (capped resource) | cap_counters.used | per server (200 / 429) |")
    print("|---|---:|---:|---:|---|---:|---:|---|")
    for r in bursts:
        other = {k: v for k, v in r["answers"].items() if k not in ("200", "429 /problems/limit-reached")}
        per = ", ".join(f"{s['ok']} / {s['limit_reached']}" for s in r["servers"])
        print(f"| {names[r['setup']]} | {r['calls']} | {r['ok']} | {r['limit_reached']} | {other or 'none'} | {r['records']} ({r['record_statuses']}) | {r['cap_used']} | {per} |")
cols = ("Completed", "ClientClosed", "Failed", "none", "more than one")
kinds = ["read to end", "hung up before the first token", "hung up mid-stream", "hung up after the last token, before end", "not started"]
for r in rows:
    if r["kind"] != "hangup-join":
        continue
    c = next(x for x in rows if x["kind"] == "hangup" and x["setup"] == r["setup"])
    print(f"\n**{names[r['setup']]}**: {c['calls']} streamed calls, {c['concurrency']} at a time, seed {c['seed']}, "
          f"answer of {r['tokens']} tokens; {c['elapsed_ms'] / 1000:.1f} s; started (200 headers) {r['started']}, "
          f"usage records of these calls {r['records']}; other records of the resource (warm-up and check calls): {r['records_not_ours']}\n")
    print("| Client side | calls | Completed | ClientClosed | Failed | no record | more than one |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in kinds:
        t = r["table"].get(k)
        if not t:
            continue
        n = sum(t.values())
        print(f"| {k} | {n} | " + " | ".join(str(t.get(s, 0)) for s in cols) + " |")
    for title, ks in (("**hung up before end** (all)", kinds[1:4]), ("**all started**", kinds[:4])):
        t = {s: sum(r["table"].get(k, {}).get(s, 0) for k in ks) for s in cols}
        print(f"| {title} | {sum(t.values())} | " + " | ".join(str(t[s]) for s in cols) + " |")
    print("\nHung-up calls against the moment their record was created (`created_at`, set just after the server decided the status):\n")
    print("| Record | client hung up before it: calls (median, max gap) | client hung up after it: calls (median, max gap) |")
    print("|---|---:|---:|")
    def cell(t):
        return f"{t['n']} ({t['median_ms']} ms, {t['max_ms']} ms)" if t["n"] else "0"
    for status, t in sorted(r["timing"].items()):
        print(f"| {status} | {cell(t['before'])} | {cell(t['after'])} |")
PY
