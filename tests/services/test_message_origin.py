"""Events carry the origin their caller gave (the bridge skips what XMPP delivered by it): sends,
edits, read / delivered marks; REST calls give none."""
from __future__ import annotations

import pytest

from models.events import Origin, RecordingPublisher
from models.requester import Requester
from models.services.container import build_services
from models.messages import make_draft
from tests.services.commands import new_dialog

XMPP = Origin(transport="xmpp", stanza_id="s-1")


@pytest.fixture
async def svc(settings, database, clock):
    built = build_services(settings, database, clock=clock, publisher=RecordingPublisher())
    await built.start()
    return built


async def user(svc, name: str) -> Requester:
    created = await svc.users.create_guest(1, name)
    return Requester(app_id=1, user_id=created.id)


async def test_every_event_the_bridge_causes_carries_its_origin(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    view, _ = await svc.dialogs.create(alice, new_dialog({"type": 2, "name": "t", "occupants_ids": [bob.user_id]}))
    dialog_id = view.dialog.id
    events = svc.publisher.events
    sent = await svc.messages.send(alice, make_draft(dialog_id=dialog_id, body="hi", origin=XMPP))
    plain = await svc.messages.send(alice, make_draft(dialog_id=dialog_id, body="rest"))
    [batched] = await svc.messages.send_batch([(alice, make_draft(dialog_id=dialog_id, body="b",
                                                                  origin=XMPP))])
    await svc.messages.edit(alice, sent.id, "fixed", origin=XMPP)
    await svc.receipts.mark_delivered(bob, [sent.id], origin=XMPP)
    await svc.receipts.mark_read(bob, [sent.id, batched.id], origin=XMPP)
    await svc.receipts.mark_read(bob, [plain.id])
    def about(event) -> object:
        if event.kind == "message_created":
            return event.payload["message"]["_id"]
        if event.kind == "message_updated":
            return event.payload["message_id"]
        return tuple(event.payload["message_ids"])
    about_messages = [e for e in events if e.kind not in ("dialog_created", "user_created")]
    origins = {(e.kind, about(e)): e.origin for e in about_messages}
    assert len(origins) == len(about_messages)
    assert origins == {
        ("message_created", sent.id): XMPP,
        ("message_created", plain.id): None,
        ("message_created", batched.id): XMPP,
        ("message_updated", sent.id): XMPP,
        ("messages_delivered", (sent.id,)): XMPP,
        ("messages_read", (sent.id, batched.id)): XMPP,
        ("messages_read", (plain.id,)): None,
    }
