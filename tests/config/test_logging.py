"""Log formats: JSON lines with the request id on every line of a request, and a client's request
id kept only when it is a plain token (it is written into every line)."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config.logging import JsonLinesFormatter, _RequestIdFilter, request_id

REPO = Path(__file__).resolve().parents[2]


def test_a_json_line_has_time_level_logger_request_id_message_and_exception():
    record = logging.LogRecord("chat.test", logging.ERROR, __file__, 1, "sent %d", (3,), None)
    token = request_id.set("req-42")
    try:
        _RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonLinesFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "ERROR" and parsed["logger"] == "chat.test"
    assert parsed["request_id"] == "req-42" and parsed["message"] == "sent 3"
    assert parsed["time"].endswith("+00:00")
    assert parsed["exception"]["type"] == "ValueError" and "Traceback" in parsed["exception"]["traceback"]


@pytest.fixture
def records():
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield seen
    root.removeHandler(handler)


async def test_requests_carry_their_id_and_odd_ids_are_replaced(aiohttp_client, services, records):
    from aiohttp import web

    from rest.app import create_app

    app = create_app(services)

    async def noisy(request: web.Request) -> web.Response:
        logging.getLogger("chat.view").warning("handling")
        return web.json_response({})

    app.router.add_get("/_noisy", noisy)
    client = await aiohttp_client(app)
    await client.get("/_noisy", headers={"X-Request-Id": "trace-7f3a.b:1"})
    await client.get("/_noisy", headers={"X-Request-Id": "evil\u2028 id\" injected"})
    await client.get("/_noisy")
    ids = [r.request_id for r in records if r.name == "chat.view"]
    assert ids[0] == "trace-7f3a.b:1"
    assert ids[1] != ids[0] and len(ids[1]) == 12 and ids[1].isalnum()
    assert len(ids[2]) == 12 and ids[2] != ids[1]


def test_serve_with_json_logs_writes_only_json_lines(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update({"CHAT_LOG_FORMAT": "json", "CHAT_HTTP__PORT": str(port), "CHAT_XMPP__ENABLED": "false",
                "CHAT_DATA_DIR": str(tmp_path / "data"), "CHAT_BLOBS__PATH": str(tmp_path / "blobs"),
                "PYTHONPATH": str(REPO)})
    process = subprocess.Popen([sys.executable, "-m", "chatbridge", "serve"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "serve did not answer /health"
                time.sleep(0.2)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert lines, "serve logged nothing"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any("EMBEDDED IN-MEMORY" in p["message"] for p in parsed)
    assert all({"time", "level", "logger", "request_id", "message"} <= set(p) for p in parsed)
