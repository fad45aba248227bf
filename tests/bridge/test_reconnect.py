"""The component link drops during traffic: it reconnects with backoff and nothing is lost —
1:1 copies wait in Prosody (mod_chatbridge_spool), REST messages wait in the outbox."""
from __future__ import annotations

import asyncio

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
