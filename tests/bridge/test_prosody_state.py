"""What Prosody stores lives and dies with the chatbridge store it serves: after a restart on the
embedded store (ids start again at 1), the new users get nothing of the old ones' offline messages
or privacy lists (the c2s certificate is kept); a second process on the same data directory refuses to start and leaves the
running one's Prosody alone."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid

import aiohttp
import pytest

from bridge.certificates import self_signed_files
from bridge.prosody import ProsodyError, ProsodyProcess
from tests.bridge.conftest import Client, Rest, Server, is_message, local, make_settings, new_id

pytestmark = pytest.mark.skipif(shutil.which("prosody") is None, reason="Prosody is not installed")


@contextlib.asynccontextmanager
async def running(settings):
    srv = Server(settings)
    try:
        await asyncio.to_thread(srv.start)
        async with aiohttp.ClientSession() as session:
            yield srv, Rest(session, srv.base_url)
    finally:
        await asyncio.to_thread(srv.stop)


async def _login(srv: Server, user: dict) -> Client:
    client = Client(user, srv.settings)
    await client.connect()
    await srv.wait_online(user["id"], client.resource)
    return client


async def _privacy(client: Client, payload: str) -> None:
    iq_id = f"{uuid.uuid4()}:edit"
    client.send(f'<iq type="set" id="{iq_id}"><query xmlns="jabber:iq:privacy">{payload}</query></iq>')
    [reply] = await client.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == iq_id)
    assert reply.get("type") == "result"


async def test_a_restart_on_the_embedded_store_leaks_nothing_to_the_new_users(tmp_path):
    settings = make_settings(tmp_path)
    secret = new_id()
    async with running(settings) as (srv, rest):
        first, second = await rest.new_user(), await rest.new_user()
        alice = await _login(srv, first)
        # user 1 denies user 2, and sends user 2 (offline) a message Prosody keeps for them
        await _privacy(alice, f'<list name="blocklist"><item type="jid" value="{second["jid"]}" '
                              f'action="deny" order="1"><message/></item></list>')
        await _privacy(alice, '<default name="blocklist"/>')
        await _privacy(alice, '<default/>')
        alice.send(f'<message to="{second["jid"]}" type="chat" id="{secret}">'
                   f'<body>for the first user 2 only</body></message>')
        await asyncio.sleep(0.5)  # Prosody stores it offline
        await _privacy(alice, '<default name="blocklist"/>')
        await alice.close()
        old_state = srv.bridge.prosody.files.data
        assert any(p.is_file() for p in old_state.rglob("*")), "Prosody stored nothing to leak"
        certificate = self_signed_files(tmp_path).certificate.read_bytes()

    async with running(settings) as (srv, rest):
        assert srv.bridge.prosody.files.data != old_state and not old_state.exists()
        # the self-signed certificate clients were told to trust is kept
        assert self_signed_files(tmp_path).certificate.read_bytes() == certificate
        new_first, new_second = await rest.new_user(), await rest.new_user()
        assert (new_first["id"], new_second["id"]) == (first["id"], second["id"])  # ids again
        bob = await _login(srv, new_second)
        await bob.absent(lambda s: is_message(s, id=secret), wait=1.0)
        # the old deny list is not the new user 1's: their 1:1 messages flow both ways
        alice = await _login(srv, new_first)
        there, back = new_id(), new_id()
        alice.send(f'<message to="{new_second["jid"]}" type="chat" id="{there}"><body>hi</body></message>')
        bob.send(f'<message to="{new_first["jid"]}" type="chat" id="{back}"><body>hi</body></message>')
        await bob.wait_for(lambda s: is_message(s, id=there))
        [reply] = await alice.wait_for(lambda s: is_message(s, id=back))
        assert reply.get("type") == "chat"
        await alice.close()
        await bob.close()


async def test_a_second_process_on_a_data_directory_in_use_refuses_and_kills_nothing(tmp_path):
    settings = make_settings(tmp_path, start_timeout_seconds=10)
    first = ProsodyProcess(settings)
    await first.start()
    try:
        pid = first.pid
        other = make_settings(tmp_path, start_timeout_seconds=10)  # same data dir, other ports
        second = ProsodyProcess(other)
        with pytest.raises(ProsodyError, match="in use by another chatbridge process"):
            await second.start()
        await second.stop()
        await asyncio.sleep(0.3)
        assert first.pid == pid and first.status()["running"]  # not taken for a stale one
    finally:
        await first.stop()
    # once the first has stopped, the directory is free again
    again = ProsodyProcess(settings)
    await again.start()
    await again.stop()


def test_each_store_has_its_own_prosody_state(tmp_path):
    from bridge.prosody import ProsodyFiles

    one, two = ProsodyFiles.under(tmp_path, "store-abc"), ProsodyFiles.under(tmp_path, "store-def")
    assert one.data != two.data and one.data.parent == two.data.parent
    assert ProsodyFiles.under(tmp_path).data.name.startswith("embedded-")
    with pytest.raises(ValueError):
        ProsodyFiles.under(tmp_path, "../elsewhere")
    # starting on an embedded store deletes earlier embedded state, never a database's
    for name in ("embedded-old", "store-abc", "localhost"):
        (one.data.parent / name).mkdir(parents=True)
    ProsodyFiles.under(tmp_path, "embedded-new").forget_other_embedded_stores()
    assert sorted(p.name for p in one.data.parent.iterdir()) == ["store-abc"]
