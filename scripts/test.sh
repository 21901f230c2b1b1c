#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs (npm packages; Debian 13's
# servers, natively or in a cached root: scripts/servers.sh, in the background while the code is checked),
# then the mocks' projects and the real-server suites (in parallel lanes) side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
# the servers (on a fresh machine a Debian 13 root to build: network and disk) while the type checks use the CPU
servers_log=$(mktemp)
scripts/servers.sh install >"$servers_log" 2>&1 &
servers=$!
trap 'kill "$servers" 2>/dev/null || true; rm -f "$servers_log"' EXIT

npx tsc --noEmit
npx tsc --noEmit -p test
npx eslint .
# the mocks' projects (no server, generous timeouts) niced beside the real servers' suites, which must keep their
# timing: the servers get the CPU they ask for and the mocks fill what the suites leave idle (they wait on servers)
mocks_log=$(mktemp)
# (four workers: a CLI test's worker mostly waits on the command it runs, so two would leave CPU idle)
nice -n 10 npx vitest run --project unit --project stacks --project cli --maxWorkers=4 >"$mocks_log" 2>&1 &
mocks=$!
trap 'kill "$servers" "$mocks" 2>/dev/null || true; rm -f "$servers_log" "$mocks_log"' EXIT

if ! wait "$servers"; then
    cat "$servers_log" >&2
    echo "test: the Debian 13 servers could not be installed (scripts/servers.sh install)" >&2
    exit 1
fi
# the real servers' suites in lanes side by side, each lane a network namespace of its own (scripts/integration.ts)
integration=0
scripts/servers.sh run npx tsx scripts/integration.ts || integration=$?
mocks_rc=0
wait "$mocks" || mocks_rc=$?
echo "===== unit, stacks, cli ====="
cat "$mocks_log"
[ "$mocks_rc" = 0 ] || echo "test: the mocks' projects failed (exit $mocks_rc)" >&2
[ "$integration" = 0 ] || echo "test: the real servers' suites failed (exit $integration)" >&2
[ "$mocks_rc" = 0 ] && [ "$integration" = 0 ]
