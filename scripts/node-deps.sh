#!/usr/bin/env bash
# Installs the pinned node packages used by the end-to-end tests (tests/e2e/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"
if [ -d node_modules/connectycube ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
