"""docker/compose.yaml parses with Debian's docker-compose, names only real settings and the default
ports; the Dockerfile installs what the README's commands install and runs what `make run` runs."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from config.settings import Settings
from tests.config.test_settings_documented import setting_names

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: `bash scripts/system-deps.sh test` installs it")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    return subprocess.run([binary, "-f", str(COMPOSE), "config"], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_the_compose_file_parses_and_names_real_settings_and_ports():
    done = compose_config({"CHAT_APP__AUTH_KEY": "k", "CHAT_APP__AUTH_SECRET": "s"})
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert set(config["services"]) == {"mongo", "chatbridge"}
    app = config["services"]["chatbridge"]
    env = app["environment"]
    assert set(env) <= setting_names(), set(env) - setting_names()
    assert env["CHAT_MONGO__URL"].startswith("mongodb://mongo:27017/") and "replicaSet=" in env["CHAT_MONGO__URL"]
    assert env["CHAT_APP__AUTH_KEY"] == "k"
    defaults = Settings(_env_file=None)
    published = {int(p["target"]) for p in app["ports"]}
    assert published == {defaults.http.port, defaults.xmpp.c2s_port, defaults.xmpp.http_port}
    assert app["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_the_compose_file_refuses_to_run_without_keys():
    done = compose_config({})
    assert done.returncode != 0 and "set an auth key" in done.stderr


def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")


def run_packages() -> set[str]:
    """The Debian packages scripts/system-deps.sh installs for `make run` (not the test-only ones)."""
    script = (REPO / "scripts" / "system-deps.sh").read_text(encoding="utf-8")
    run_part = script.split('if [ "${1:-}" = "test" ]', 1)[0]
    return {name for group in re.findall(r"need\+=\(([^)]*)\)", run_part) for name in group.split()}


def test_the_dockerfile_installs_and_runs_what_the_readme_does():
    text = dockerfile()
    assert text.startswith("FROM python:3.11-slim-bookworm")  # Debian 12, Python 3.11 (README)
    [apt] = re.findall(r"apt-get install ([^&]*)", text)
    packages = {word for word in apt.split() if not word.startswith("-")}
    assert packages == run_packages()
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q --disable-pip-version-check -r requirements.lock" in makefile
    assert re.search(r"pip install --no-cache-dir -r requirements\.lock", text)
    assert re.search(r"pip install --no-cache-dir --no-deps \.", text)
    assert "run: deps system-deps\n\t$(BIN)/chatbridge serve\n" in makefile
    assert 'CMD ["chatbridge", "serve"]' in text
    defaults = Settings(_env_file=None)
    [exposed] = re.findall(r"^EXPOSE (.*)$", text, re.MULTILINE)
    assert {int(p) for p in exposed.split()} == {defaults.http.port, defaults.xmpp.c2s_port,
                                                 defaults.xmpp.http_port}
    assert "CHAT_HTTP__HOST=0.0.0.0" in text  # listens beyond the container's loopback
