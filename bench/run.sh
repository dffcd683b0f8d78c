#!/usr/bin/env bash
# Benchmarks BatchScheduler against plain Quartz.NET 4.7.3 and Hangfire.PostgreSql on one
# PostgreSQL, in one run, and prints a markdown table (also written to docs/benchmarks.md).
#
#   bench/run.sh            full run: 10,000 and 100,000 items registered and 20,000 drained per system
#                           (BatchScheduler's and plain Quartz's registrations, and BatchScheduler's 1- and
#                           2-node drains, three times, interleaved; medians reported);
#                           BatchScheduler also: 1,000,000 registered then API latency and RSS, due-to-start
#                           at half load, failover after SIGKILL, credit-free drain beside credit-limited items,
#                           a drain beside a limited backlog, a bulk pause and resume of 1,000,000 items,
#                           the smallbox seed (3.08M items, 1 and 2 workers; about 45 minutes)
#   bench/run.sh --quick    a few minutes: 10,000 registered, 2,000 drained, 100,000 for the scale run
#
# PostgreSQL: a private throwaway server on 127.0.0.1:$BATCHSCHEDULER_PG_PORT (default 55434 here,
# so it never shares a server with ./test.sh), started and removed by this script, fsync on,
# pg_stat_statements loaded. Debian's postgresql package is installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
if (( QUICK )); then REGISTER=(10000); DRAIN=2000; SCALE=100000; PGBENCH_SECONDS=5; else REGISTER=(10000 100000); DRAIN=20000; SCALE=1000000; PGBENCH_SECONDS=15; fi

export BATCHSCHEDULER_PG_PORT="${BATCHSCHEDULER_PG_PORT:-55434}"
PG_LOG_PREFIX=bench
# shellcheck source=../.ci/postgres.sh
source .ci/postgres.sh
ensure_postgres
export PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=postgres

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log "building bench/Bench (Release)"
dotnet build bench/Bench -c Release --no-incremental -v q -nologo >/dev/null
BENCH=(dotnet bench/Bench/bin/Release/net10.0/Bench.dll)

mkdir -p bench/results
RESULTS="bench/results/$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RESULTS"
run() { log "$*"; "${BENCH[@]}" "$@" --pg "$PG_CONNECTION" | tee -a "$RESULTS" >/dev/null; }

# Registration: BatchScheduler and plain Quartz three times, interleaved. One run each left the ratio
# to the machine's noise: plain Quartz's 100,000-item rate went 988, 1,770 and 2,053/s in three full
# runs, BatchScheduler's 45,582, 41,635 and 30,909/s. The report takes the median of each.
for (( round = 1; round <= 3; round++ )); do
  for items in "${REGISTER[@]}"; do
    run batchscheduler register --items "$items"
    run plain-quartz register --items "$items"
  done
done
for items in "${REGISTER[@]}"; do
  run hangfire register --items "$items"
done

for system in batchscheduler plain-quartz hangfire; do
  # BatchScheduler's 1- and 2-node drains three times, interleaved: one run of each left the
  # 2-node / 1-node ratio to the machine's noise (0.97x in one full run, 1.10x in the one before).
  # The report takes the median of each (docs/benchmarks.md lists every run).
  rounds=1
  [[ "$system" == batchscheduler ]] && rounds=3
  for (( round = 1; round <= rounds; round++ )); do
    for nodes in 1 2; do
      run "$system" drain --items "$DRAIN" --nodes "$nodes"
    done
  done
done

# BatchScheduler only: the large registration with API latency and RSS, due-to-start at half of the
# 1-node drain rate just measured (the median of its three runs), failover after SIGKILL.
run batchscheduler scale --items "$SCALE"
DRAIN_RATE=$(grep '"system":"batchscheduler","variant":"1 node(s)","metric":"drain"' "$RESULTS" | sed -n 's/.*"value":\([0-9.]*\).*/\1/p' | sort -g | sed -n 2p)
run batchscheduler due --rate "$(awk -v r="${DRAIN_RATE:-200}" 'BEGIN { printf "%d", r / 2 }')" --items 0
run batchscheduler failover --items 20
run batchscheduler credits --items "$DRAIN"
# Issue 21: every item of one cron data type due on the same tick (100,000; --quick: 10,000).
run batchscheduler cron --items "$(( QUICK ? 10000 : 100000 ))"
# Issue 22: the 1-node drain beside a waiting backlog of a data type limited to 2 at once (100,000;
# --quick: 10,000), and a bulk pause then resume of the scale run's count beside a drain.
run batchscheduler drain --items "$DRAIN" --nodes 1 --limited "$(( QUICK ? 10000 : 100000 ))"
run batchscheduler bulk --items "$SCALE"
# Issue 24: the smallbox seed, 35 data types over 87,878 entities (3.08M items; --quick: 2,000 entities,
# 70,000 items), with 1 and 2 worker processes: registration, steady load for 10 minutes (--quick: 2),
# catch-up after an hour down; the dashboard is timed in Debian's headless chromium.
export BATCHSCHEDULER_CHROMIUM="${BATCHSCHEDULER_CHROMIUM:-$(command -v chromium || true)}"
[[ -x "$BATCHSCHEDULER_CHROMIUM" ]] || { log "chromium not found: apt-get install chromium, or set BATCHSCHEDULER_CHROMIUM"; exit 1; }
run batchscheduler seed --items "$(( QUICK ? 2000 : 87878 ))" --minutes "$(( QUICK ? 2 : 10 ))"

# PostgreSQL's own single-row durable update limit on this machine, for scale.
log "pgbench: single-row UPDATE + COMMIT for ${PGBENCH_SECONDS}s on 1 and 8 connections"
psql -qX -d postgres -c "DROP TABLE IF EXISTS bench_counter; CREATE TABLE bench_counter (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO bench_counter SELECT g, 0 FROM generate_series(1, 8) g;"
script=$(mktemp)
printf '\\set id random(1, 8)\nUPDATE bench_counter SET n = n + 1 WHERE id = :id;\n' >"$script"
for clients in 1 8; do
  tps=$(pgbench -n -c "$clients" -j "$clients" -T "$PGBENCH_SECONDS" -f "$script" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
  printf '{"system":"postgres","variant":"pgbench, %s connection(s)","metric":"single-row update","value":%s,"unit":"commits/s","notes":"UPDATE one row by primary key + COMMIT, fsync on, %ss"}\n' \
    "$clients" "${tps:-0}" "$PGBENCH_SECONDS" >>"$RESULTS"
done
rm -f "$script"
psql -qX -d postgres -c "DROP TABLE bench_counter;"

# Issue 24: I/O-bound executors: items whose executor awaits 100 ms, one worker process at
# Cluster:MaxConcurrency 1,000 (a ceiling of 10,000 executions/s); 100,000 items (--quick: 10,000).
run batchscheduler io --items "$(( QUICK ? 10000 : 100000 ))"
# Issue 24: the embedded default, one node on a SQLite file of its own (no PostgreSQL used): registration
# through the API (100,000; --quick: 10,000) and the drain of due no-op items (20,000; --quick: 2,000).
run batchscheduler sqlite-register --items "$(( QUICK ? 10000 : 100000 ))"
run batchscheduler sqlite-drain --items "$(( QUICK ? 2000 : 20000 ))"

"${BENCH[@]}" report "$RESULTS" --quick "$QUICK" --out docs/benchmarks.md
