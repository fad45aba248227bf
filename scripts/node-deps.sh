#!/usr/bin/env bash
# Installs the pinned node packages used by the end-to-end tests (tests/e2e/package-lock.json:
# connectycube 6.1.2 exactly). Without node/npm it only warns: the e2e tests then skip themselves.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node-deps: node/npm not found; the SDK end-to-end tests (tests/e2e) will be skipped" >&2
  exit 0
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "node-deps: node $(node --version) is too old; the connectycube SDK needs node >= 20" >&2
  exit 1
fi
# Up to date when npm's own record of the install is newer than the committed lock file.
if [ -f node_modules/connectycube/package.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
