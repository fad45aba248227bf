"""`chatbridge vapid-keys`, `chatbridge push-worker` and the push part of `chatbridge serve`."""
from __future__ import annotations

from click.testing import CliRunner
from py_vapid import Vapid

from chatbridge import wiring
from chatbridge.cli import main
from push.vapid import application_server_key


def test_vapid_keys_creates_once_and_prints_the_public_key(tmp_path, monkeypatch):
    path = tmp_path / "push" / "vapid.pem"
    monkeypatch.setenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY_FILE", str(path))
    monkeypatch.delenv("CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["vapid-keys"])
    assert first.exit_code == 0 and "created" in first.output
    public = application_server_key(Vapid.from_pem(path.read_bytes().strip()))
    assert public in first.output and oct(path.stat().st_mode)[-3:] == "600"
    again = CliRunner().invoke(main, ["vapid-keys"])
    assert "kept existing" in again.output and public in again.output


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
