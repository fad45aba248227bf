"""`chatbridge apps|users|indexes|export` next to a running `python -m chatbridge serve` on the
embedded store: the commands go through its operator routes on loopback with the key it wrote to
`{data_dir}/operator-key`, and do what they say in that process (its REST API sees the result)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def _env(tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update({
        "CHAT_HTTP__HOST": "127.0.0.1", "CHAT_HTTP__PORT": str(port),
        "CHAT_DATA_DIR": str(tmp / "data"), "CHAT_BLOBS__PATH": str(tmp / "blobs"),
        "CHAT_XMPP__ENABLED": "false", "CHAT_APP__AUTH_KEY": "loopback-auth-key",
        "CHAT_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    })
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-serve")
    port = free_port()
    env = _env(tmp, port)
    log = open(tmp / "serve.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "chatbridge", "serve"], cwd=tmp, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, (tmp / "serve.log").read_text()
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except (OSError, urllib.error.URLError):
            pass
        assert time.monotonic() < deadline, (tmp / "serve.log").read_text()
        time.sleep(0.1)
    yield {"tmp": tmp, "env": env, "base": base, "log": tmp / "serve.log"}
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    log.close()


def cli(server, *args: str, env: dict | None = None, input: str | None = None):
    return subprocess.run([sys.executable, "-m", "chatbridge", *args], cwd=server["tmp"],
                          env=env or server["env"], capture_output=True, text=True, input=input,
                          timeout=60)


def http(server, method: str, path: str, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server["base"] + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_the_operator_key_file_is_the_operators_only(server):
    path = server["tmp"] / "data" / "operator-key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert path.read_text().strip() not in server["log"].read_text()


def test_apps_create_works_in_the_running_server(server):
    result = cli(server, "apps", "create", "Acme", "--json")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    app_id = made["app"]["id"]
    assert app_id >= 2
    status, body = http(server, "POST", "/session.json",
                        {"application_id": app_id, "auth_key": made["auth_key"]})
    assert status == 201, body
    status, body = http(server, "GET", "/admin/users.json",
                        headers={"CB-Administration-API-Key": made["admin_api_key"]})
    assert status == 200 and body["items"] == []
    for secret in (made["admin_api_key"], made["auth_secret"]):
        assert secret not in server["log"].read_text()
    listed = json.loads(cli(server, "apps", "list", "--json").stdout)
    assert {1, app_id} <= {a["id"] for a in listed}
    shown = cli(server, "apps", "show", str(app_id))
    assert shown.returncode == 0 and "Acme" in shown.stdout
    rotated = json.loads(cli(server, "apps", "rotate-keys", str(app_id), "--yes", "--json").stdout)
    status, _ = http(server, "GET", "/admin/users.json",
                     headers={"CB-Administration-API-Key": made["admin_api_key"]})
    assert status == 401
    status, _ = http(server, "GET", "/admin/users.json",
                     headers={"CB-Administration-API-Key": rotated["admin_api_key"]})
    assert status == 200


def test_users_import_delete_and_export_through_the_server(server):
    made = json.loads(cli(server, "apps", "create", "Import", "--json").stdout)
    app_id = str(made["app"]["id"])
    csv_path = server["tmp"] / "users.csv"
    csv_path.write_text("login,password,full_name\nzed001,password123,Zed\nyan001,short,Yan\n"
                        "zed001,password123,Twice\nxia001,password123,Xia\n")
    result = cli(server, "users", "import", str(csv_path), "--app", app_id)
    assert result.returncode == 1, result.stderr
    assert "2 users created, 2 rows rejected" in result.stdout
    assert "password: is too short" in result.stderr and "login: has already been taken" in result.stderr
    key = {"CB-Administration-API-Key": made["admin_api_key"]}
    status, body = http(server, "GET", "/admin/users.json", headers=key)
    users = {u["login"]: u["id"] for u in body["items"]}
    assert set(users) == {"zed001", "xia001"}
    # a dialog and messages, through the server's REST API as zed
    status, body = http(server, "POST", "/session.json", {
        "application_id": int(app_id), "auth_key": made["auth_key"],
        "user": {"login": "zed001", "password": "password123"}})
    assert status == 201, body
    token = {"CB-Token": body["session"]["token"]}
    status, dialog = http(server, "POST", "/chat/Dialog.json",
                          {"type": 2, "name": "g", "occupants_ids": [users["xia001"]]}, token)
    assert status == 201, dialog
    for i in range(3):
        status, _ = http(server, "POST", "/chat/Message.json",
                         {"chat_dialog_id": dialog["_id"], "message": f"hello {i}"}, token)
        assert status == 201
    out = server["tmp"] / "export.jsonl"
    result = cli(server, "export", "--app", app_id, "--dialog", dialog["_id"], "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["message"] for x in out.read_text().splitlines()] == \
        ["hello 0", "hello 1", "hello 2"]
    assert "3 messages exported" in result.stderr
    other = cli(server, "export", "--app", "1", "--dialog", dialog["_id"])
    assert other.returncode == 1 and "not found" in other.stderr.lower()
    result = cli(server, "users", "delete", str(users["xia001"]), "--app", app_id, "--yes")
    assert result.returncode == 0, result.stderr
    status, body = http(server, "GET", "/admin/users.json", headers=key)
    assert [u["login"] for u in body["items"]] == ["zed001"]
    result = cli(server, "indexes")
    assert result.returncode == 0 and "nothing to do" in result.stdout


def test_failures_are_said_plainly(server, tmp_path):
    # a wrong key: another data dir with a key of its own
    env = dict(server["env"], CHAT_DATA_DIR=str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "operator-key").write_text("x" * 43 + "\n")
    result = cli(server, "apps", "list", env=env)
    assert result.returncode == 1
    assert "Unexpected operator key" in result.stderr and "CHAT_DATA_DIR" in result.stderr
    # no key file at all
    env = dict(server["env"], CHAT_DATA_DIR=str(tmp_path / "none"))
    result = cli(server, "apps", "list", env=env)
    assert result.returncode == 1 and "operator-key" in result.stderr
    # no server
    shutil.copytree(server["tmp"] / "data", tmp_path / "copy")
    env = dict(server["env"], CHAT_DATA_DIR=str(tmp_path / "copy"), CHAT_HTTP__PORT=str(free_port()))
    result = cli(server, "apps", "create", "Nope", env=env)
    assert result.returncode == 1 and "is `chatbridge serve` running?" in result.stderr
    for result in (cli(server, "apps", "list", env=env), cli(server, "users", "import", "-", "--format",
                                                               "csv", env=env, input="login\n")):
        assert "Traceback" not in result.stderr
    # the operator routes refuse what a proxy forwards
    real = (server["tmp"] / "data" / "operator-key").read_text().strip()
    status, body = http(server, "GET", "/admin/apps.json",
                        headers={"CB-Operator-Key": real, "X-Forwarded-For": "203.0.113.9"})
    assert status == 403 and body == {"errors": {"base": ["The operator routes answer on loopback only"]}}
    status, body = http(server, "GET", "/admin/apps.json", headers={"CB-Operator-Key": real})
    assert status == 200
