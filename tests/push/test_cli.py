"""`chatbridge vapid-keys`, `chatbridge push-worker` and the push part of `chatbridge serve`."""
from __future__ import annotations

import os
import uuid

import pytest
from click.testing import CliRunner
from py_vapid import Vapid

from chatbridge import wiring
from chatbridge.cli import main
from push.vapid import application_server_key, generate_key_file


def _public(output: str) -> str:
    return output.split("applicationServerKey (public): ", 1)[1].strip()


def test_vapid_keys_prints_a_key_files_public_key_and_rotates_it(tmp_path, monkeypatch):
    path = tmp_path / "push" / "vapid.pem"
    generate_key_file(path)
    monkeypatch.setenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY_FILE", str(path))
    monkeypatch.delenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["vapid-keys"])
    assert first.exit_code == 0, first.output
    assert _public(first.output) == application_server_key(Vapid.from_pem(path.read_bytes().strip()))
    rotated = CliRunner().invoke(main, ["vapid-keys", "--rotate"])
    assert rotated.exit_code == 0 and "replaced" in rotated.output
    assert _public(rotated.output) != _public(first.output)
    assert _public(rotated.output) == application_server_key(Vapid.from_pem(path.read_bytes().strip()))
    assert oct(path.stat().st_mode)[-3:] == "600"


def test_vapid_keys_with_an_inline_key_prints_it_and_will_not_rotate_it(tmp_path, monkeypatch):
    vapid = Vapid()
    vapid.generate_keys()
    monkeypatch.setenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY", vapid.private_pem().decode())
    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(main, ["vapid-keys"])
    assert shown.exit_code == 0 and _public(shown.output) == application_server_key(vapid)
    refused = CliRunner().invoke(main, ["vapid-keys", "--rotate"])
    assert refused.exit_code == 2 and "CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY" in refused.output


def test_vapid_keys_on_the_embedded_store_says_where_the_key_is(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY", raising=False)
    monkeypatch.setenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY_FILE", str(tmp_path / "none.pem"))
    monkeypatch.delenv("CHAT_MONGO__URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["vapid-keys"])
    assert result.exit_code == 2 and "WebPush applicationServerKey" in result.output
    assert not (tmp_path / "none.pem").exists()


@pytest.mark.skipif(not os.environ.get("CHAT_TEST_MONGO_URL"),
                    reason="needs a MongoDB wire server (scripts/wire-store-tests.sh runs it)")
def test_vapid_keys_on_mongodb_prints_and_rotates_the_stored_key(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY", raising=False)
    monkeypatch.setenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY_FILE", str(tmp_path / "none.pem"))
    monkeypatch.setenv("CHAT_MONGO__URL", os.environ["CHAT_TEST_MONGO_URL"])
    monkeypatch.setenv("CHAT_MONGO__DATABASE", f"cli_{uuid.uuid4().hex[:8]}")
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["vapid-keys"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, ["vapid-keys"])
    assert _public(again.output) == _public(first.output)
    rotated = CliRunner().invoke(main, ["vapid-keys", "--rotate"])
    assert rotated.exit_code == 0 and _public(rotated.output) != _public(first.output)
    assert _public(CliRunner().invoke(main, ["vapid-keys"]).output) == _public(rotated.output)


def test_push_worker_needs_a_shared_store(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAT_MONGO__URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["push-worker"])
    assert result.exit_code == 2 and "CHAT_MONGO__URL" in result.output


async def test_serve_part_runs_workers_unless_disabled(services, caplog):
    services.settings.push.enabled = False
    async with wiring.push_part()(services, None):
        pass
    assert any("push worker disabled" in r.getMessage() for r in caplog.records)
    services.settings.push.enabled = True
    caplog.clear()
    async with wiring.push_part(workers=2, fanout=False)(services, None):
        pass
    assert any("2 worker(s)" in r.getMessage() and "fan-out off" in r.getMessage()
               for r in caplog.records)
