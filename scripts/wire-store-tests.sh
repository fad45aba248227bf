#!/usr/bin/env bash
# The store, push, REST and service tests once more against a real MongoDB wire-protocol server
# (SecantusDB from PyPI, in its own venv and process, in memory): the motor code paths, the shared
# outbox and the query-based job claims, which the embedded mongomock store never takes.
# mongomock stays the store of the other tests; no MongoDB server can be installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-wire
if [ ! -f "$VENV/.installed" ] || [ scripts/wire-store.lock -nt "$VENV/.installed" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/wire-store.lock
    touch "$VENV/.installed"
fi
PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp -t wire-store.XXXXXX.log)
"$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$PORT" --storage-path :memory: --standalone \
    --log-level WARNING >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 150); do
    if .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
        break
    fi
    kill -0 $SERVER 2>/dev/null || { echo "wire store did not start:"; cat "$LOG"; exit 1; }
    sleep 0.1
done
echo "store tests against SecantusDB $("$VENV/bin/pip" show secantusdb | sed -n 's/^Version: //p') on port $PORT"
CHAT_TEST_MONGO_URL="mongodb://127.0.0.1:$PORT/?directConnection=true" \
    .venv/bin/python -m pytest -q -p no:cacheprovider -m "not browser" \
    ${WIRE_TESTS:-tests/models tests/services tests/storage tests/push tests/rest tests/chatbridge/test_cli.py tests/chatbridge/test_cli_doctor.py}
