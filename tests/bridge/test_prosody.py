"""The embedded Prosody: rendered config, token auth through our Lua module, 1:1 copies that
never touch delivery, supervision (restart after a crash, stop by PID)."""
from __future__ import annotations

import asyncio
import os
import stat

import pytest

from models.requester import Requester
from bridge.prosody import ProsodyError, ProsodyFiles, ProsodyProcess, auth_url, render_config
from tests.bridge.conftest import extra, is_message, make_settings, new_id, sub


def test_config_is_rendered_into_the_data_dir(tmp_path):
    settings = make_settings(tmp_path, component_secret='se"cr\\et')
    files = render_config(settings)
    text = files.config.read_text()
    xmpp = settings.xmpp
    assert files.root == (tmp_path / "prosody").resolve()
    assert f"c2s_ports = {{ {xmpp.c2s_port} }}" in text
    assert f"http_ports = {{ {xmpp.http_port} }}" in text
    assert f"component_ports = {{ {xmpp.component_port} }}" in text
    assert "https_ports = {}" in text and "s2s_ports = {}" in text
    assert '"mam"' not in text and '"tls"' not in text and '"s2s" }' in text
    assert 'component_secret = "se\\"cr\\\\et"' in text  # Lua-escaped
    assert f'chatbridge_auth_url = "{auth_url(settings)}"' in text
    assert auth_url(settings) == f"http://127.0.0.1:{settings.http.port}/xmpp-auth"
    assert f'pidfile = "{files.pidfile}"' in text
    assert stat.S_IMODE(os.stat(files.config).st_mode) == 0o600  # holds secrets
    for name in ("auth_chatbridge", "chatbridge_copies", "chatbridge_spool", "chatbridge_fanout"):
        assert (files.root / "plugins" / f"mod_{name}.lua").exists()
    assert '"chatbridge_copies";' in text and f'chatbridge_copy_host = "{xmpp.muc_domain}"' in text
    assert '"firewall"' not in text


async def test_an_include_of_your_own_is_added_and_prosody_runs_with_it(tmp_path):
    own = tmp_path / "own.cfg.lua"
    own.write_text('Component "conference.localhost" "muc"\n\tmuc_room_locking = false\n')
    settings = make_settings(tmp_path, prosody_include=str(own), start_timeout_seconds=10)
    text = render_config(settings).config.read_text()
    include = text.index(f'Include "{own.resolve()}"')
    assert text.index("c2s_ports") < include < text.index('VirtualHost "')  # global scope
    process = ProsodyProcess(settings)
    try:
        await process.start()  # Prosody refuses to start on a config error
        assert process.pid is not None
    finally:
        await process.stop()
    with pytest.raises(ValueError, match="PROSODY_INCLUDE"):
        render_config(make_settings(tmp_path, prosody_include=str(tmp_path / "missing.lua")))


async def test_missing_prosody_is_a_clear_error(tmp_path):
    settings = make_settings(tmp_path, prosody_command="no-such-prosody-binary")
    with pytest.raises(ProsodyError, match="make system-deps"):
        await ProsodyProcess(settings).start()


async def test_taken_port_fails_start_and_leaves_nothing_running(tmp_path):
    settings = make_settings(tmp_path, start_timeout_seconds=5)
    blocker = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1",
                                         settings.xmpp.component_port)
    process = ProsodyProcess(settings)
    try:
        with pytest.raises(ProsodyError):
            await process.start()
        assert process.pid is None
    finally:
        blocker.close()
        await process.stop()


async def test_session_token_and_password_log_in_wrong_ones_do_not(server, rest, xmpp):
    user = await rest.new_user()
    client = await xmpp(user)
    assert client.xmpp.boundjid.bare == user["jid"]
    assert len(client.resource) >= 10  # Prosody picks a random resource (SDK filters on `from`)
    await xmpp(user, password="password123")  # the user's own password works too
    with pytest.raises(ConnectionRefusedError):
        await xmpp(user, password="not-the-token")
    other = await rest.new_user()
    with pytest.raises(ConnectionRefusedError):  # someone else's token
        await xmpp(user, password=other["token"])


async def test_only_plain_is_offered(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.xmpp.c2s_port)
    writer.write(b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    data = b""
    while b"</stream:features>" not in data:
        data += await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    assert b"<mechanism>PLAIN</mechanism>" in data
    assert data.count(b"<mechanism>") == 1
    assert b"sasl:2" not in data


async def test_chat_message_still_arrives_and_its_copy_is_stored_once(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    stanza = (f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>hello &lt;&amp;&gt;</body>'
              '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
              '<custom_key>v</custom_key><attachment type="image" uid="abc" size="10"/></extraParams>'
              "</message>")
    alice.send(stanza)
    alice.send(stanza)  # a retry with the same id
    got = await bob.wait_for(lambda s: is_message(s, id=mid), count=2)
    assert sub(got[0], "body").text == "hello <&>"  # the original, untouched by the copy
    assert got[0].get("from") == alice.jid

    async def stored(services):
        for _ in range(100):
            status = await services.receipts.unread_counts(Requester(app_id=1, user_id=b["id"]), None)
            if status["total"]:
                return status
            await asyncio.sleep(0.05)
        return status

    assert (await server.call(stored))["total"] == 1
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", b["token"])
    assert status == 200
    private = [d for d in dialogs["items"] if d["type"] == 3 and a["id"] in d["occupants_ids"]]
    assert len(private) == 1 and private[0]["last_message"] == "hello <&>"
    assert private[0]["unread_messages_count"] == 1
    status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                      params={"chat_dialog_id": private[0]["_id"]})
    assert status == 200
    assert [m["_id"] for m in history["items"]] == [mid]
    message = history["items"][0]
    assert message["sender_id"] == a["id"] and message["recipient_id"] == b["id"]
    assert message["custom_key"] == "v"
    assert message["attachments"] == [{"type": "image", "uid": "abc", "size": 10}]


async def test_chat_without_save_to_history_is_delivered_not_stored(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    mid = new_id()
    # an SDK message (extraParams) without save_to_history=1 (a plain client's, without
    # extraParams, is stored: tests/bridge/test_stock_clients.py)
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>ephemeral</body>'
               '<extraParams xmlns="jabber:client"><k>v</k></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid))
    marker = new_id()  # a stored message after it: once it is there, the first was handled too
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{marker}"><body>kept</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=marker))
    for _ in range(100):
        status, dialogs = await rest.call("GET", "/chat/Dialog.json", a["token"])
        private = [d for d in dialogs["items"] if d["type"] == 3]
        if private and private[0]["last_message"] == "kept":
            break
        await asyncio.sleep(0.05)
    status, history = await rest.call("GET", "/chat/Message.json", a["token"],
                                      params={"chat_dialog_id": private[0]["_id"]})
    assert [m["_id"] for m in history["items"]] == [marker]
    first = next(s for s in bob.stanzas if is_message(s, id=mid))
    assert extra(first) == {"k": "v"}  # delivered as sent: the copy does not change it
    assert sub(first, "stanza-id") is None  # not stored: no stored id


async def test_prosody_is_restarted_after_a_crash(server, rest, xmpp):
    bridge = server.bridge
    before = bridge.prosody.status()
    old_pid = await server.call_sync(bridge.prosody.kill_for_test)
    assert old_pid == before["pid"]
    for _ in range(200):
        status = bridge.status()
        if status["prosody"]["restarts"] > before["restarts"] and status["connected"]:
            break
        await asyncio.sleep(0.05)
    assert status["prosody"]["running"] and status["prosody"]["pid"] != old_pid
    assert status["connected"], status
    assert int(bridge.prosody.files.pidfile.read_text()) == status["prosody"]["pid"]
    # a fresh login works against the new Prosody
    client = await xmpp(await rest.new_user())
    assert client.resource


def test_wildcard_host_binds_clients_everywhere_but_the_component_on_loopback(tmp_path):
    settings = make_settings(tmp_path, host="0.0.0.0")
    text = render_config(settings).config.read_text()
    assert 'c2s_interfaces = { "0.0.0.0" }' in text and 'http_interfaces = { "0.0.0.0" }' in text
    assert 'component_interfaces = { "127.0.0.1" }' in text


def test_files_layout(tmp_path):
    files = ProsodyFiles.under(tmp_path)
    assert files.config.name == "prosody.cfg.lua" and files.pidfile.parent == files.root


async def test_external_mode_connects_to_a_server_it_did_not_start(tmp_path):
    from bridge.app import create_bridge
    from models.services.container import build_services
    from models.storage.mongo import memory_database

    settings = make_settings(tmp_path, embedded=False)
    external = ProsodyProcess(settings)  # "someone else's" Prosody with our config
    await external.start()
    try:
        services = build_services(settings, memory_database())
        await services.start()
        bridge = create_bridge(services)
        assert bridge.prosody is None
        await bridge.start(connect_timeout=10)
        status = bridge.status()
        assert status["connected"] and "prosody" not in status
        await bridge.stop()
        assert external.pid is not None  # not ours to stop
    finally:
        await external.stop()


def test_client_bandwidth_limit_is_rendered_and_can_be_turned_off(tmp_path):
    text = render_config(make_settings(tmp_path)).config.read_text()
    assert '\t"limits";' in text and 'limits = { c2s = { rate = "128kb/s"; burst = "5s"; } }' in text
    off = make_settings(tmp_path)
    off.rate_limits.xmpp_c2s_rate = ""
    assert '\t"limits";' not in render_config(off).config.read_text()
    from pydantic import ValidationError

    from config.settings import RateLimitSettings

    with pytest.raises(ValidationError, match="128kb/s"):
        RateLimitSettings(xmpp_c2s_rate="fast")
    with pytest.raises(ValidationError, match="10/minute"):
        RateLimitSettings(messages_per_user="lots")
