#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs (npm packages; Debian 13's
# servers, natively or in a cached root: scripts/servers.sh, in the background while the mocks'
# tests run), then type-checks, lints, and runs the unit, CLI and real-server integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
# the servers (on a fresh machine a Debian 13 root to build: network and disk) while the checks below use the CPU
servers_log=$(mktemp)
scripts/servers.sh install >"$servers_log" 2>&1 &
servers=$!
trap 'kill "$servers" 2>/dev/null || true; rm -f "$servers_log"' EXIT

npx tsc --noEmit
npx tsc --noEmit -p test
npx eslint .

if ! wait "$servers"; then
    cat "$servers_log" >&2
    echo "test: the Debian 13 servers could not be installed (scripts/servers.sh install)" >&2
    exit 1
fi
# the real servers' tests mostly wait on servers, the mocks' tests mostly compute: both at once,
# the integration output shown whole when it ends
integration_log=$(mktemp)
trap 'rm -f "$servers_log" "$integration_log"' EXIT
scripts/servers.sh run npx vitest run --project integration >"$integration_log" 2>&1 &
integration=$!
status=0
npx vitest run --project unit --project stacks --project cli || status=1
wait "$integration" || status=1
cat "$integration_log"
exit "$status"
