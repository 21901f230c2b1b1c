#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs (npm packages; Debian 13's
# servers, natively or in a cached root: scripts/servers.sh), then type-checks, lints, and runs
# the unit, CLI and real-server integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
scripts/servers.sh install >/dev/null

npx tsc --noEmit
npx tsc --noEmit -p test
npx eslint .
npx vitest run --project unit --project stacks --project cli
scripts/servers.sh run npx vitest run --project integration
