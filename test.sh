#!/usr/bin/env bash
# Runs every test in BatchScheduler.sln, against SQLite and a real PostgreSQL server.
#
#   ./test.sh                          all tests
#   ./test.sh --filter Provider=Sqlite extra arguments go to `dotnet test`
#
# PostgreSQL: when BATCHSCHEDULER_TEST_POSTGRES is already set, that server is used and nothing is
# started. Otherwise a server listening on 127.0.0.1:$BATCHSCHEDULER_PG_PORT (default 55432) is reused,
# or a private throwaway cluster is created in a temp dir, started there and removed on exit. When the
# server binaries are missing, Debian's `postgresql` package is installed with apt-get (root only).
#
# The last line printed is "N passed, N failed" (totals over the whole run, from the TRX files);
# the exit code is non-zero when a test failed, when no test ran, or when `dotnet test` failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PG_HOST=127.0.0.1
PG_PORT="${BATCHSCHEDULER_PG_PORT:-55432}"
PG_DIR=""          # set only when this script started the server
PG_BIN=""
PG_RUN_AS=()       # postgres refuses to run as root: run its binaries as user postgres then

log() { echo "test.sh: $*" >&2; }
die() { log "error: $*"; exit 2; }

port_is_listening() {
  (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
}

find_pg_bin() {
  local initdb
  initdb=$(ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$initdb" ]] && dirname "$initdb"
}

install_postgres() {
  [[ "$(id -u)" -eq 0 ]] || die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); run as root so this script can 'apt-get install postgresql', install it yourself, or set BATCHSCHEDULER_TEST_POSTGRES"
  command -v apt-get >/dev/null || die "PostgreSQL server binaries not found and apt-get is not available; install PostgreSQL or set BATCHSCHEDULER_TEST_POSTGRES"
  log "installing PostgreSQL (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y postgresql
}

# Runs a PostgreSQL binary from inside the cluster's directory, which its user can always enter.
pg_run() {
  (cd "$PG_DIR" && "${PG_RUN_AS[@]}" "$PG_BIN/$1" "${@:2}")
}

# Quiet, and safe to call twice: it runs before the counts line and again from the EXIT trap.
stop_postgres() {
  [[ -n "$PG_DIR" ]] || return 0
  pg_run pg_ctl -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}

start_postgres() {
  PG_BIN=$(find_pg_bin || true)
  if [[ -z "$PG_BIN" ]]; then
    install_postgres
    PG_BIN=$(find_pg_bin || true)
    [[ -n "$PG_BIN" ]] || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb appeared"
  fi

  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/batchscheduler-pg.XXXXXX")
  trap stop_postgres EXIT
  if [[ "$(id -u)" -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run the server as"
    chown postgres: "$PG_DIR"
    PG_RUN_AS=(runuser -u postgres --)
  fi
  chmod 700 "$PG_DIR"

  log "starting a private PostgreSQL cluster ($PG_BIN) in $PG_DIR on $PG_HOST:$PG_PORT"
  pg_run initdb -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  # fsync stays on: the tests should see the durability costs production sees.
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# test.sh: private throwaway cluster
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DIR/data'
max_connections = 300
shared_preload_libraries = 'pg_stat_statements'
EOF
  pg_run pg_ctl -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
}

if [[ -n "${BATCHSCHEDULER_TEST_POSTGRES:-}" ]]; then
  log "using BATCHSCHEDULER_TEST_POSTGRES from the environment"
else
  if port_is_listening; then
    log "reusing the server already listening on $PG_HOST:$PG_PORT"
  else
    start_postgres
  fi
  export BATCHSCHEDULER_TEST_POSTGRES="Host=$PG_HOST;Port=$PG_PORT;Username=postgres;Database=postgres"
fi

command -v dotnet >/dev/null || die "dotnet (the .NET 10 SDK) is not on PATH"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

RESULTS_DIR="TestResults/test-sh-$(date +%Y%m%d-%H%M%S)-$$"
set +e
dotnet test BatchScheduler.sln -c Release \
  --results-directory "$RESULTS_DIR" \
  --logger trx \
  --logger "console;verbosity=normal" \
  "$@"
test_exit=$?
set -e

stop_postgres

passed=0
failed=0
# One attribute of a TRX <Counters .../> element, 0 when absent.
count() { local v; v=$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"); echo "${v:-0}"; }
shopt -s nullglob globstar
for trx in "$RESULTS_DIR"/**/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)
  passed=$((passed + $(count passed)))
  for kind in failed error timeout aborted; do
    failed=$((failed + $(count "$kind")))
  done
done

if (( passed == 0 && failed == 0 )); then
  log "no tests ran"
elif (( test_exit != 0 && failed == 0 )); then
  log "dotnet test exited with $test_exit"
fi
echo "$passed passed, $failed failed"
if (( failed == 0 && passed > 0 && test_exit == 0 )); then
  exit 0
fi
exit 1
