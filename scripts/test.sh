#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs, then type-checks,
# lints, and runs the unit and the real-server integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
scripts/install-servers.sh

npx tsc --noEmit
npx tsc --noEmit -p test
npx eslint .
npx vitest run --project unit
npx vitest run --project integration
