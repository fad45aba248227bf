"""Conversation events (issue 15 §3): the notices of a dialog change, told live and, when the
deployment turns it on, kept in the dialog's history.

The dialog and membership services (and bans) call `describe` with the notices of a change
(models/conversation.py) before they publish its `dialog_updated` / `dialog_deleted` event: the
described notices ride in the event's payload (`notices`), and the bridge relay sends each to every
online member as a ConnectyCube system message (a headline with `extraParams`, docs/xmpp.md
"Conversation events"), the users the change removed included (their own removal only). After
the event, `record` stores each notice as a service message of the dialog when
`CHAT_DIALOGS__SERVICE_MESSAGES` is on (off by default: ConnectyCube apps usually post such
messages themselves): a message of the actor with the same id as the system message, the readable
text as its body and the notice's keys as custom parameters; it takes the dialog's next `seq`,
becomes its last message, shows the dialog again to members who hid it (as every message does),
counts as unread and is delivered over XMPP like a REST message sent with `send_to_chat=1`, but
never pushed (`silent`).
"""
from __future__ import annotations

import logging
from typing import Any

from config.settings import DialogSettings
from models.clock import Clock
from models.conversation import Notice
from models.dialogs import Dialog, LastMessage
from models.events import Event, EventPublisher
from models.messages import Message
from models.requester import Requester
from models.services.access import AccessService
from models.services.users import UserService
from models.storage.dialogs import DialogStore
from models.storage.ids import new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore

logger = logging.getLogger(__name__)

Described = dict[str, Any]


class ConversationService:
    def __init__(self, dialogs: DialogStore, members: MemberStore, messages: MessageStore,
                 users: UserService, access: AccessService, clock: Clock,
                 publisher: EventPublisher, settings: DialogSettings) -> None:
        self._dialogs = dialogs
        self._members = members
        self._messages = messages
        self._users = users
        self._access = access
        self._clock = clock
        self._publisher = publisher
        self._settings = settings

    async def describe(self, requester: Requester, dialog: Dialog,
                       notices: list[Notice]) -> list[Described]:
        """The notices as the dialog event carries them: each with its id (the system message's
        and the service message's), its extension keys, the readable text and the time."""
        if not notices:
            return []
        actor = requester.user_id
        wanted = sorted({actor, *(u for n in notices for u in n.user_ids)} - {0})
        names = {u.id: u.full_name or u.login or f"User {u.id}"
                 for u in await self._users.get_many(requester.app_id, wanted)} if wanted else {}
        now = int(self._clock.now().timestamp())
        return [{"id": new_id(), **notice.extension(actor), "text": notice.text(names, actor),
                 "date_sent": now, "dialog_type": int(dialog.type)} for notice in notices]

    async def record(self, requester: Requester, dialog: Dialog | None,
                     described: list[Described]) -> list[Message]:
        """Stores the described notices as service messages of `dialog` (as it is after the
        change) and publishes their `message_created` events; nothing when the setting is off."""
        if not described or dialog is None or not self._settings.service_messages:
            return []
        actor, app_id = requester.user_id, requester.app_id
        now = self._clock.now()
        last = described[-1]
        try:
            top, hidden = await self._dialogs.take_seqs(
                app_id, dialog.id, LastMessage(last["text"], last["id"], actor, last["date_sent"]),
                now, len(described))
        except LookupError:  # deleted meanwhile
            return []
        first = top - len(described) + 1
        built = [Message(
            id=item["id"], app_id=app_id, dialog_id=dialog.id, sender_id=actor, body=item["text"],
            date_sent=item["date_sent"], seq=first + offset, created_at=now, updated_at=now,
            read_ids=(actor,) if actor else (), delivered_ids=(actor,) if actor else (),
            custom=_custom(item)) for offset, item in enumerate(described)]
        stored = [message for message, _ in await self._messages.insert_many(built)]
        if hidden:
            await self._members.unhide_all(dialog.id)
        audience = await self._access.audience_of(dialog)
        recipients = [u for u in audience if u != actor]
        await self._publisher.publish_many([Event(
            kind="message_created", app_id=app_id, dialog_id=dialog.id, sender_id=actor,
            recipient_ids=recipients,
            payload={"message": message.to_wire(), "custom": dict(message.custom),
                     "dialog_type": int(dialog.type), "send_to_chat": True,
                     "save_to_history": True, "markable": False, "silent": True,
                     # the actor's own devices get it only while they are a member
                     "to_sender": actor in audience}) for message in stored])
        logger.debug("%d service messages stored in dialog %s", len(stored), dialog.id)
        return stored


def _custom(item: Described) -> dict[str, Any]:
    """A described notice's keys a service message keeps as custom parameters."""
    return {k: v for k, v in item.items() if k not in ("id", "text", "date_sent", "dialog_type")}

