#!/usr/bin/env bash
# Installs the Debian packages chatbridge needs, when missing (idempotent, root or sudo).
# `system-deps.sh test` adds the ones only the tests use (`make test`).
set -euo pipefail
need=()
command -v prosody >/dev/null 2>&1 || need+=(prosody)
[ -d /usr/lib/prosody/modules/mod_firewall ] || [ -f /usr/lib/prosody/modules/mod_firewall/mod_firewall.lua ] || dpkg -s prosody-modules >/dev/null 2>&1 || need+=(prosody-modules)
if [ "${1:-}" = "test" ]; then
    # tests/e2e drive the real ConnectyCube SDK with node
    command -v node >/dev/null 2>&1 || need+=(nodejs npm)
    # tests/docker: the compose file must parse (`docker-compose config`)
    command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
