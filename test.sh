#!/usr/bin/env bash
# Runs every test lane on a fresh machine: installs what is missing (PostgreSQL, Redis, Chromium),
# starts a throwaway PostgreSQL on 127.0.0.1 (free port, own data dir), checks formatting and migrations,
# runs the whole suite on SQLite and again on PostgreSQL, stops what it started.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

step() { printf '\n==> %s\n' "$*"; }

# --- What the tests need -------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  step "Installing PostgreSQL"
  apt_install postgresql
fi
PG_BIN=$(pg_bin)
command -v python3 >/dev/null || apt_install python3
# The multi-process gateway tests start their own redis-server on a free loopback port.
if [ ! -x /usr/bin/redis-server ]; then
  step "Installing Redis"
  apt_install redis-server
fi
# Playwright drives Debian's Chromium (it cannot download its own browser here).
if [ ! -x /usr/bin/chromium ]; then
  step "Installing Chromium"
  apt_install chromium
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# --- Throwaway PostgreSQL --------------------------------------------------------------
PG_DIR=$(mktemp -d /tmp/cmp-pg.XXXXXX)
PG_PORT=$(free_port)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root; the data dir belongs to the postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$PG_DIR"
  RUN_AS=(runuser -u postgres --)
fi
cleanup() {
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT

step "Starting PostgreSQL on 127.0.0.1:$PG_PORT"
"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U cmp --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
export CMP_TEST_PG="Host=127.0.0.1;Port=$PG_PORT;Username=cmp;Database=postgres"

# --- Build and gates -------------------------------------------------------------------
step "Restoring and building"
dotnet tool restore >/dev/null
dotnet build Cmp.slnx -nologo -v q -clp:ErrorsOnly

step "Checking formatting (dotnet format --verify-no-changes)"
dotnet format Cmp.slnx --verify-no-changes --no-restore

step "Checking that the migrations match the model (both providers)"
for ctx in SqliteCmpDbContext PostgresCmpDbContext; do
  dotnet ef migrations has-pending-model-changes --project src/Cmp.Web --context "$ctx" --no-build >/dev/null \
    || { echo "The model has changes without a migration for $ctx: add one (see README)."; exit 1; }
done

# --- Test lanes ------------------------------------------------------------------------
status=0
step "Tests on SQLite"
CMP_TEST_DATABASE=sqlite dotnet test Cmp.slnx --no-build -nologo --logger "console;verbosity=minimal" || status=1
step "Tests on PostgreSQL (the database-backed project; the flow runtime has no database)"
CMP_TEST_DATABASE=postgres dotnet test tests/Cmp.Web.Tests --no-build -nologo --logger "console;verbosity=minimal" || status=1

if [ "$status" = 0 ]; then step "All lanes passed"; else step "FAILED (see above)"; fi
exit $status
