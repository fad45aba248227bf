"""The component link drops during traffic: it reconnects with backoff and nothing is lost —
1:1 copies wait in Prosody (mod_chatbridge_spool), REST messages wait in the outbox."""
from __future__ import annotations

import asyncio
import os
import signal

from tests.bridge.conftest import is_message, new_id


async def test_link_drop_during_traffic_loses_nothing(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    private = await rest.dialog(a["token"], [b["id"]], dtype=3)
    component = server.bridge.component
    sessions = component.sessions
    ids = [new_id() for _ in range(30)]

    def send(chunk):
        for mid in chunk:
            alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>n{mid}</body>'
                       '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
                       "</extraParams></message>")

    send(ids[:10])

    def drop():
        component._backoff = 0.5  # stays down ~1 s (reconnect_backoff_max_seconds in tests)
        component.abort()

    server.loop.call_soon_threadsafe(drop)
    while server.bridge.status()["connected"]:
        await asyncio.sleep(0.01)
    send(ids[10:20])  # while the component is away
    rest_ids = []
    for n in range(5):
        status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
            "chat_dialog_id": private["_id"], "message": f"rest {n}", "send_to_chat": 1})
        assert status == 201
        rest_ids.append(sent["_id"])
    for _ in range(300):
        status = server.bridge.status()
        if status["connected"] and status["sessions"] > sessions:
            break
        await asyncio.sleep(0.02)
    assert status["connected"] and status["sessions"] == sessions + 1
    send(ids[20:])
    for mid in ids + rest_ids:
        await bob.wait_for(lambda s, m=mid: is_message(s, id=m), timeout=10)
    for _ in range(200):
        status, history = await rest.call("GET", "/chat/Message.json", b["token"], params={
            "chat_dialog_id": private["_id"], "limit": 100, "mark_as_read": 0})
        stored = [m["_id"] for m in history["items"]]
        if len(stored) >= len(ids) + len(rest_ids):
            break
        await asyncio.sleep(0.05)
    missing = [ids.index(m) if m in ids else m for m in ids + rest_ids if m not in stored]
    assert not missing, missing
    assert sorted(stored) == sorted(ids + rest_ids)  # each exactly once
    received = [s.get("id") for s in bob.stanzas if is_message(s) and s.get("id") in rest_ids]
    assert sorted(set(received)) == sorted(rest_ids)


async def _stall_prosody(server, seconds: float, during) -> None:
    """Prosody stops (SIGSTOP) for `seconds` while `during()` runs, then goes on."""
    pid = server.bridge.prosody.status()["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        await during()
        await asyncio.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


async def _burst_during_stall(server, rest, xmpp, stall: float, timeout: float):
    """20 REST messages to an online user while Prosody is stopped for `stall` seconds; waits
    until the user has each. Returns (ids, the user's client, the component's sessions and the
    relay's deliveries before the burst)."""
    a, b = await rest.new_user(), await rest.new_user()
    bob = await xmpp(b)
    private = await rest.dialog(a["token"], [b["id"]], dtype=3)
    await asyncio.sleep(0.2)  # the dialog's event is confirmed
    sessions, delivered = server.bridge.component.sessions, server.bridge.relay.delivered
    ids: list[str] = []

    async def send():
        for k in range(20):
            status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
                "chat_dialog_id": private["_id"], "message": f"stall {k}", "send_to_chat": 1})
            assert status == 201
            ids.append(sent["_id"])

    await _stall_prosody(server, stall, send)
    for mid in ids:
        await bob.wait_for(lambda s, m=mid: is_message(s, id=m), timeout=timeout)
    return ids, bob, sessions, delivered


async def test_a_stalled_prosody_is_waited_for_not_flooded(server, rest, xmpp):
    """Prosody stops answering for a while with the link up: relayed messages are confirmed once
    it resumes, each delivered once (a short confirmation timeout used to deliver everything
    waiting again and again)."""
    ids, bob, sessions, delivered = await _burst_during_stall(server, rest, xmpp, 1.5, timeout=10)
    assert server.bridge.component.sessions == sessions  # the link stayed
    assert server.bridge.relay.delivered - delivered == len(ids)
    received = [s.get("id") for s in bob.stanzas if is_message(s) and s.get("id") in ids]
    assert sorted(received) == sorted(ids)


async def test_a_link_that_stops_confirming_is_made_again(server, rest, xmpp):
    """Past `relay_confirm_timeout_seconds` without Prosody's answer the component drops the
    link and reconnects; what waited is delivered again after the reconnect, not lost."""
    relay, component = server.bridge.relay, server.bridge.component
    relay.confirm_timeout = 0.5  # read by each wait from now on
    try:
        ids, _bob, sessions, delivered = await _burst_during_stall(server, rest, xmpp, 2.0, timeout=15)
    finally:
        relay.confirm_timeout = server.settings.xmpp.relay_confirm_timeout_seconds
    for _ in range(300):
        if component.sessions > sessions and server.bridge.status()["connected"]:
            break
        await asyncio.sleep(0.02)
    assert component.sessions > sessions  # dropped and made again
    assert relay.delivered - delivered <= 2 * len(ids)  # at least once, not a flood


async def test_batches_sharing_a_ping_each_time_out_cleanly(server):
    """Two relay batches share one ping; the first one's timeout must not cancel the second's
    wait (it raised CancelledError, which ended the relay's confirmation task for good)."""
    component = server.bridge.component

    async def both(_services):
        first, second = component.confirm_later(), component.confirm_later()
        assert first is second
        return await asyncio.gather(component.confirmed(first, 0.2), component.confirmed(second, 0.4),
                                    return_exceptions=True)

    async def run():
        assert await server.call(both) == [False, False]

    await _stall_prosody(server, 0.1, run)

    async def later(_services):  # the late answer is matched; the next ping works
        return await component.confirmed(component.confirm_later(), 5.0)

    assert await server.call(later) is True
    assert component._pings == {}


async def test_copies_with_plain_xmpp_ids_are_stored_once_across_a_reconnect(server, rest, xmpp):
    """A plain XMPP client's ids are not ConnectyCube ids: the bridge stores its messages under
    an id derived from the spool's copy, so copies Prosody sends again after a reconnect (stored,
    not acknowledged yet) are recognised as repeats."""
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a)
    await xmpp(b)  # bob online: no offline storage, no push
    component = server.bridge.component
    plugin = component.plugin["cc_private"]
    extra_xml = "<extraParams xmlns='jabber:client'><save_to_history>1</save_to_history></extraParams>"
    await server.call_sync(lambda: plugin._ack_task.cancel())  # nothing acknowledged meanwhile
    try:
        before, sessions = plugin.stored, component.sessions
        for n in range(5):
            alice.send(f'<message to="{b["jid"]}" type="chat" id="plain-{n}"><body>p{n}</body>{extra_xml}</message>')
        alice.send(f'<message to="{b["jid"]}" type="chat"><body>no id</body>{extra_xml}</message>')
        for _ in range(300):
            if plugin.stored - before >= 6:
                break
            await asyncio.sleep(0.02)
        assert plugin.stored - before == 6

        def drop():
            component._backoff = 0.2
            component.abort()

        server.loop.call_soon_threadsafe(drop)
        for _ in range(300):  # Prosody sends the six copies again on the new link
            if component.sessions > sessions and plugin.stored - before >= 12:
                break
            await asyncio.sleep(0.02)
        assert plugin.stored - before == 12
    finally:
        def restart_acks():
            if plugin._ack_task is None or plugin._ack_task.done():
                plugin._ack_task = asyncio.ensure_future(plugin._ack_loop())
        await server.call_sync(restart_acks)
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", b["token"])
    [private] = [d for d in dialogs["items"] if d["type"] == 3 and a["id"] in d["occupants_ids"]]
    status, history = await rest.call("GET", "/chat/Message.json", b["token"], params={
        "chat_dialog_id": private["_id"], "limit": 100, "mark_as_read": 0})
    bodies = sorted(m["message"] for m in history["items"])
    assert bodies == sorted([f"p{n}" for n in range(5)] + ["no id"])  # each once
    assert all(len(m["_id"]) == 24 for m in history["items"])
