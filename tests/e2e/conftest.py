"""End-to-end fixtures: the REAL service (`chatbridge serve`) as a child process, driven by the REAL
`connectycube` npm SDK through `sdk_driver.cjs` (one node process per scenario).

- `e2e_server` (session): starts `chatbridge serve` on free ports with a temporary data dir, waits
  for `GET /health` 200, and at the end sends SIGTERM and checks it exits cleanly.
- `sdk` : `sdk("scenario")` runs one driver scenario and returns its `result` dict; a failing
  scenario fails the test with the step, the SDK's error, its last requests and the server log tail.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO = E2E_DIR.parent.parent
DRIVER = E2E_DIR / "sdk_driver.cjs"
APP_ID = 42
AUTH_KEY = "e2e-auth-key-" + uuid.uuid4().hex[:8]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SCENARIO_TIMEOUT = 45.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command() -> list[str]:
    """The installed console script (what `make run` uses), else the package's __main__."""
    script = Path(sys.executable).parent / "chatbridge"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "chatbridge", "serve"]


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    chat_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def _health(base_url: str) -> int | None:
    try:
        with urllib.request.urlopen(base_url + "/health", timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _server_env(tmp: Path, http_port: int) -> dict[str, str]:
    # Nothing from the developer's own CHAT_* environment leaks in; the cwd is the temp dir, so a
    # `.env` in the repository is not read either.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update({
        "CHAT_HTTP__HOST": "127.0.0.1",
        "CHAT_HTTP__PORT": str(http_port),
        "CHAT_APP__ID": str(APP_ID),
        "CHAT_APP__AUTH_KEY": AUTH_KEY,
        "CHAT_BLOBS__PATH": str(tmp / "blobs"),
        "CHAT_DATA_DIR": str(tmp / "data"),
        "CHAT_LOG_LEVEL": "INFO",
        # XMPP parts (embedded XMPP server + bridge) get free ports too, never the defaults.
        "CHAT_XMPP__HOST": "127.0.0.1",
        "CHAT_XMPP__C2S_PORT": str(free_port()),
        "CHAT_XMPP__C2S_DIRECT_TLS_PORT": str(free_port()),
        "CHAT_XMPP__PROXY65_PORT": str(free_port()),
        "CHAT_XMPP__HTTP_PORT": str(free_port()),
        "CHAT_XMPP__COMPONENT_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
        # the server runs this checkout's code (a git worktree's too), not whatever checkout the
        # virtualenv's editable install points at
        "PYTHONPATH": os.pathsep.join(filter(None, [str(E2E_DIR.parents[1]),
                                                    os.environ.get("PYTHONPATH")])),
        # One server for the whole session signs up every test's users from one address, far
        # past a real client's rate; the limits have their own tests (tests/rest/test_rate_limits.py).
        "CHAT_RATE_LIMITS__SIGNUPS_PER_ADDRESS": "1000000/minute",
    })
    mongo_url = os.environ.get("CHAT_TEST_MONGO_URL")
    if mongo_url:
        env["CHAT_MONGO__URL"] = mongo_url
        env["CHAT_MONGO__DATABASE"] = f"e2e_{uuid.uuid4().hex[:8]}"
    return env


def _stop(process: subprocess.Popen) -> int | None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit code of the graceful stop or None."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        # The server runs in its own process group (start_new_session): take its children with it.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        return None


@pytest.fixture(scope="session")
def node_ready() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the SDK end-to-end tests need node >= 20")
    if not (E2E_DIR / "node_modules" / "connectycube" / "package.json").exists():
        done = subprocess.run(["bash", str(REPO / "scripts" / "node-deps.sh")], capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"scripts/node-deps.sh failed (npm ci in tests/e2e):\n{done.stdout}\n{done.stderr}")
    installed = json.loads((E2E_DIR / "node_modules" / "connectycube" / "package.json").read_text())
    assert installed["version"] == "6.1.2", f"tests/e2e has connectycube {installed['version']}, want 6.1.2"
    return node


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory) -> Server:
    tmp = tmp_path_factory.mktemp("e2e-server")
    http_port = free_port()
    env = _server_env(tmp, http_port)
    log_path = tmp / "server.log"
    base_url = f"http://127.0.0.1:{http_port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(serve_command(), cwd=tmp, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, base_url, f"ws://127.0.0.1:{env['CHAT_XMPP__HTTP_PORT']}/xmpp-websocket",
                    log_path, env)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"chatbridge serve exited with {process.returncode} during start-up:\n"
                            f"{server.log_tail()}")
            status = _health(base_url)
            if status == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"GET /health did not answer 200 within {START_TIMEOUT}s (last: {status}):\n"
                            f"{server.log_tail()}")
            time.sleep(0.1)
    except BaseException:
        _stop(process)
        raise

    yield server

    already_dead = process.poll()
    code = _stop(process)
    if already_dead is not None:
        pytest.fail(f"chatbridge serve died during the tests (exit {already_dead}):\n{server.log_tail()}")
    if code is None:
        pytest.fail(f"chatbridge serve ignored SIGTERM for {STOP_TIMEOUT}s and was killed:\n{server.log_tail()}")
    assert code == 0, f"chatbridge serve exited with {code} on SIGTERM:\n{server.log_tail()}"
    try:  # anything left in the server's process group (e.g. an XMPP server child) is a leak
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail("chatbridge serve exited but left child processes running (killed now)")


class ScenarioFailed(AssertionError):
    pass


@pytest.fixture
def sdk(node_ready, e2e_server):
    """`sdk(name)` → the scenario's result dict (the node driver's JSON `result`)."""

    def run(scenario: str) -> dict[str, Any]:
        config = {"scenario": scenario, "api_url": e2e_server.base_url, "app_id": APP_ID,
                  "auth_key": AUTH_KEY, "chat_url": e2e_server.chat_url,
                  "run_id": f"{scenario[:6]}{uuid.uuid4().hex[:6]}"}
        try:
            done = subprocess.run([node_ready, str(DRIVER)], input=json.dumps(config), cwd=E2E_DIR,
                                  capture_output=True, text=True, timeout=SCENARIO_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise ScenarioFailed(f"scenario {scenario!r} timed out after {SCENARIO_TIMEOUT}s\n"
                                 f"stdout: {exc.stdout}\nstderr: {exc.stderr}") from None
        try:
            report = json.loads(done.stdout)
        except ValueError:
            raise ScenarioFailed(f"scenario {scenario!r} printed no JSON (exit {done.returncode})\n"
                                 f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}") from None
        if done.returncode != 0 or not report.get("ok"):
            trace = "\n".join(json.dumps(t, ensure_ascii=False) for t in report.get("trace", []))
            raise ScenarioFailed(
                f"SDK scenario {scenario!r} failed at step {report.get('step')!r}:\n"
                f"error: {json.dumps(report.get('error'), ensure_ascii=False)}\n"
                f"last SDK requests/responses:\n{trace}\n"
                f"server log tail:\n{e2e_server.log_tail(20)}")
        return report["result"]

    return run
