#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs (npm packages; Debian 13's
# servers, natively or in a cached root: scripts/servers.sh, in the background while the code is checked
# and the mocks' tests run), then the real-server integration tests in parallel lanes.
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
# the mocks' projects use the CPU while the root is still building (network and disk)
npx vitest run --project unit --project stacks --project cli

if ! wait "$servers"; then
    cat "$servers_log" >&2
    echo "test: the Debian 13 servers could not be installed (scripts/servers.sh install)" >&2
    exit 1
fi
# the real servers' suites in lanes side by side, each lane a network namespace of its own (scripts/integration.ts);
# after the mocks' projects, not beside them: the whole is CPU-bound on two cores, and side by side (niced, two or four
# workers) it took as long (444-485 s against 465 s on fresh clones, 12-07) with the suites' timing at risk
scripts/servers.sh run npx tsx scripts/integration.ts
