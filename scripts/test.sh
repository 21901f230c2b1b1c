#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs (npm packages; Debian 13's
# servers, natively or in a cached root: scripts/servers.sh, in the background while the code is
# type-checked and linted), then runs the unit, CLI and real-server integration tests.
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

if ! wait "$servers"; then
    cat "$servers_log" >&2
    echo "test: the Debian 13 servers could not be installed (scripts/servers.sh install)" >&2
    exit 1
fi
# one after the other: run beside the real servers' tests, the mocks' renders and radosgw's setup
# slowed past their timeouts on two cores (12-07)
npx vitest run --project unit --project stacks --project cli
scripts/servers.sh run npx vitest run --project integration
