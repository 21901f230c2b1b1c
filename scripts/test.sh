#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs (npm packages; Debian 13's
# servers, natively or in a cached root: scripts/servers.sh, in the background while the npm packages
# install, the code is checked and the mocks' tests run), then the real-server integration tests in parallel lanes.
set -euo pipefail
cd "$(dirname "$0")/.."

phase() { echo "test: $1 done at $SECONDS s"; }

# the servers first (on a fresh machine a Debian 13 root to build: network, then disk and CPU), beside everything else
# (niced, the root took 281 s instead of 107-112 and the mocks' projects were no faster: 12-07)
servers_log=$(mktemp)
checks=$(mktemp -d)
scripts/servers.sh install >"$servers_log" 2>&1 &
servers=$!
trap 'kill "$servers" 2>/dev/null || true; rm -rf "$servers_log" "$checks"' EXIT

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
    phase "npm ci"
fi

# the type checks and the linter side by side (each mostly one core), each's output whole when it fails
npx tsc --noEmit >"$checks/tsc" 2>&1 & tsc=$!
npx tsc --noEmit -p test >"$checks/tsc-test" 2>&1 & tsc_test=$!
npx eslint . >"$checks/eslint" 2>&1 & eslint=$!
failed=0
for check in tsc:$tsc tsc-test:$tsc_test eslint:$eslint; do
    if ! wait "${check#*:}"; then
        echo "test: ${check%%:*} failed:" >&2
        cat "$checks/${check%%:*}" >&2
        failed=1
    fi
done
[ "$failed" = 0 ]
phase "type checks and lint"

# the mocks' projects use the CPU while the root is still building
npx vitest run --project unit --project stacks --project cli
phase "unit, stacks and cli projects"

if ! wait "$servers"; then
    cat "$servers_log" >&2
    echo "test: the Debian 13 servers could not be installed (scripts/servers.sh install)" >&2
    exit 1
fi
grep -h "built the Debian 13 root" "$servers_log" || true
# the real servers' suites in lanes side by side, each lane a network namespace of its own (scripts/integration.ts);
# after the mocks' projects, not beside them: the whole is CPU-bound on two cores, and side by side (niced, two or four
# workers) it took as long (444-485 s against 465 s on fresh clones, 12-07) with the suites' timing at risk
scripts/servers.sh run npx tsx scripts/integration.ts
phase "integration"
