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
# Chromium: the dashboard's browser tests drive Debian's headless `chromium`. When it is not on PATH
# (and BATCHSCHEDULER_CHROMIUM does not name one), it is installed with apt-get (root only). Their
# screenshots go to $RESULTS_DIR/screenshots/.
#
# curl: the docs examples test (Scheduler.Tests/Docs) runs the curl commands of README.md and docs/; it is
# installed with apt-get (root only) when missing.
#
# npm: the OpenAPI lint test (Scheduler.Tests/Api/OpenApiLintTests.cs) runs @redocly/cli, installed in
# tools/openapi-lint with `npm ci` (only when its package-lock.json changed); npm is installed with
# apt-get (root only) when missing, and Node.js must be 20.19 or later.
#
# The last line printed is "N passed, N failed" (totals over the whole run, from the TRX files);
# the exit code is non-zero when a test failed, when no test ran, or when `dotnet test` failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PG_LOG_PREFIX=test.sh
# shellcheck source=.ci/postgres.sh
source .ci/postgres.sh

if [[ -n "${BATCHSCHEDULER_TEST_POSTGRES:-}" ]]; then
  log "using BATCHSCHEDULER_TEST_POSTGRES from the environment"
else
  ensure_postgres
  export BATCHSCHEDULER_TEST_POSTGRES="$PG_CONNECTION"
fi

# Installs Debian's package COMMAND (the package has the command's name) when COMMAND is not on PATH
# (root only): ensure_command COMMAND WHO_NEEDS_IT [WHAT_ELSE_WOULD_DO]
ensure_command() {
  local command=$1 needed_by=$2 otherwise=${3:-}
  command -v "$command" >/dev/null && return
  [[ "$(id -u)" -eq 0 ]] || die "$command not found; $needed_by need it: run as root so this script can 'apt-get install $command', install it yourself${otherwise:+, or $otherwise}"
  command -v apt-get >/dev/null || die "$command not found and apt-get is not available; install $command${otherwise:+ or $otherwise}"
  log "installing $command for $needed_by (apt-get install $command)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "$command"
  command -v "$command" >/dev/null || die "apt-get installed $command but no '$command' is on PATH"
}

# The dashboard's browser tests (Scheduler.Tests/Dashboard) drive Debian's headless chromium.
ensure_chromium() {
  if [[ -n "${BATCHSCHEDULER_CHROMIUM:-}" ]]; then
    [[ -x "$BATCHSCHEDULER_CHROMIUM" ]] || die "BATCHSCHEDULER_CHROMIUM=$BATCHSCHEDULER_CHROMIUM is not an executable file"
    log "using chromium from BATCHSCHEDULER_CHROMIUM: $BATCHSCHEDULER_CHROMIUM"
    return
  fi
  ensure_command chromium "the dashboard browser tests" "set BATCHSCHEDULER_CHROMIUM"
  BATCHSCHEDULER_CHROMIUM=$(command -v chromium)
  export BATCHSCHEDULER_CHROMIUM
  log "using chromium $BATCHSCHEDULER_CHROMIUM"
}
ensure_chromium

# The shell examples of README.md and docs/ (Scheduler.Tests/Docs/DocsExamplesTests.cs) run with curl, as a reader would.
ensure_command curl "the docs examples tests"

# The OpenAPI lint test (Scheduler.Tests/Api/OpenApiLintTests.cs) runs the @redocly/cli that
# tools/openapi-lint/package-lock.json pins. `npm ci` runs only when that lock file changed since the
# last install here (a copy of it in node_modules marks the install), so a second run costs nothing.
ensure_openapi_lint() {
  local dir=tools/openapi-lint stamp=tools/openapi-lint/node_modules/.installed-package-lock.json
  ensure_command npm "the OpenAPI lint test"
  node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)' \
    || die "node $(node --version) is too old for @redocly/cli (tools/openapi-lint): it needs Node.js 20.19 or later; install a newer nodejs"
  cmp -s "$dir/package-lock.json" "$stamp" && return
  log "installing the OpenAPI linter (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in $dir failed; the OpenAPI lint test needs it"
  cp "$dir/package-lock.json" "$stamp"
}
ensure_openapi_lint

command -v dotnet >/dev/null || die "dotnet (the .NET 10 SDK) is not on PATH"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

RESULTS_DIR="TestResults/test-sh-$(date +%Y%m%d-%H%M%S)-$$"
export BATCHSCHEDULER_SCREENSHOTS="$PWD/$RESULTS_DIR/screenshots"
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
# The failures again at the end, where a CI log's tail shows them: name and the message's first lines.
for trx in "$RESULTS_DIR"/**/*.trx; do
  awk '
    /<UnitTestResult / && /outcome="(Failed|Error|Timeout|Aborted)"/ {
      name = $0; sub(/.*testName="/, "", name); sub(/" .*/, "", name); gsub(/&quot;/, "\"", name)
      print "FAILED " name; want = 1; next
    }
    want && /<Message>/ { inmsg = 1; lines = 0; sub(/.*<Message>/, "") }
    inmsg {
      end = sub(/<\/Message>.*/, "")
      gsub(/&quot;/, "\""); gsub(/&lt;/, "<"); gsub(/&gt;/, ">"); gsub(/&amp;/, "\\&")
      if (lines++ < 6) print "  " $0
      if (end) { inmsg = 0; want = 0 }
    }
  ' "$trx"
done
if compgen -G "$BATCHSCHEDULER_SCREENSHOTS/*.png" >/dev/null; then
  log "dashboard screenshots: $BATCHSCHEDULER_SCREENSHOTS"
fi
echo "$passed passed, $failed failed"
if (( failed == 0 && passed > 0 && test_exit == 0 )); then
  exit 0
fi
exit 1
