# Shared by test.sh and bench/run.sh: find, install (Debian's package) and start a private
# throwaway PostgreSQL on loopback. Source it, then call ensure_postgres; it sets PG_CONNECTION
# and, if it started the server, stops and removes it on exit (or with stop_postgres).

PG_HOST=127.0.0.1
PG_PORT="${BATCHSCHEDULER_PG_PORT:-55432}"
PG_DIR=""          # set only when this script started the server
PG_BIN=""
PG_RUN_AS=()       # postgres refuses to run as root: run its binaries as user postgres then

log() { echo "${PG_LOG_PREFIX:-postgres.sh}: $*" >&2; }
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

# Reuses a server already listening on $PG_HOST:$PG_PORT, or starts a private one; sets PG_CONNECTION.
ensure_postgres() {
  if port_is_listening; then
    log "reusing the server already listening on $PG_HOST:$PG_PORT"
  else
    start_postgres
  fi
  PG_CONNECTION="Host=$PG_HOST;Port=$PG_PORT;Username=postgres;Database=postgres"
}
