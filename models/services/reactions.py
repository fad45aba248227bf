"""Message reactions: one reaction type per user and message (a new one replaces the previous).

Stored on the message as `reactions: {emoji: [userId]}`; each change publishes
`reactions_updated` for the bridge, which renders the `<reactions>` stanza (bridge/relay.py).
Whoever reads a dialog's messages may react: occupants, subscribers of a public dialog, and every
user of the app in a broadcast dialog (members react in every other type; a reaction is feedback,
not a post, so the broadcast rule "only admins post" does not apply to it).
"""
from __future__ import annotations

import unicodedata
from typing import Any

from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher, Origin
from models.messages import Message
from models.requester import Requester, require_user
from models.services.access import AccessService, DialogAccess
from models.storage.ids import is_object_id
from models.storage.messages import MessageStore

MAX_REACTION_CHARS = 16  # code points: room for ZWJ sequences and skin tones, not for prose


def check_reaction(value: Any, field: str) -> str:
    """A short emoji-like string that is also safe as a Mongo field name."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidError("must be a non-empty string", field=field)
    if len(value) > MAX_REACTION_CHARS:
        raise InvalidError(f"is too long (maximum is {MAX_REACTION_CHARS} characters)", field=field)
    if "." in value or value.startswith("$") or any(
            unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch.isspace() for ch in value):
        raise InvalidError("is not a valid reaction", field=field)
    return value


class ReactionService:
    def __init__(self, messages: MessageStore, access: AccessService,
                 publisher: EventPublisher) -> None:
        self._messages = messages
        self._access = access
        self._publisher = publisher

    async def _message(self, requester: Requester, message_id: str, *,
                       preview: bool) -> tuple[Message, DialogAccess]:
        require_user(requester)
        message = await self._messages.get(requester.app_id, message_id) \
            if is_object_id(message_id) else None
        if message is None or requester.user_id in message.deleted_for:
            raise NotFoundError("Message not found")
        try:
            access = await self._access.dialog_for(requester, message.dialog_id, preview=preview)
        except (NotFoundError, ForbiddenError) as exc:
            raise NotFoundError("Message not found") from exc
        if message.seq <= access.cleared_seq:
            raise NotFoundError("Message not found")
        return message, access

    async def list(self, requester: Requester, message_id: str) -> dict[str, list[int]]:
        """`{emoji: [userId, ...]}` for a message the caller can read."""
        message, _ = await self._message(requester, message_id, preview=True)
        return {emoji: list(users) for emoji, users in message.reactions.items() if users}

    async def update(self, requester: Requester, message_id: str, add: str | None,
                     remove: str | None, origin: Origin | None = None) -> None:
        """Adding `add` replaces the caller's previous reaction on this message; `remove` takes
        one away. Both are checked with `check_reaction`."""
        if add is None and remove is None:
            raise InvalidError("add or remove is required", field="base")
        add = check_reaction(add, "add") if add is not None else None
        remove = check_reaction(remove, "remove") if remove is not None else None
        message, access = await self._message(requester, message_id, preview=True)
        if not access.is_reader:  # broadcast readers react too (reacting is not posting)
            raise ForbiddenError("Only occupants can react to messages")
        user = requester.user_id
        previous = [emoji for emoji, users in message.reactions.items() if user in users]
        to_remove = [e for e in previous if e != add] if add is not None else []
        if remove is not None and remove in previous and remove not in to_remove and remove != add:
            to_remove.append(remove)
        added = add if add is not None and add not in previous else None
        if added is None and not to_remove:
            return  # nothing changes: no write, no event
        updated = await self._messages.react(requester.app_id, message.id, user, added, to_remove)
        if updated is None:
            raise NotFoundError("Message not found")
        audience = await self._access.audience(access)
        await self._publisher.publish(Event(
            kind="reactions_updated", app_id=requester.app_id, dialog_id=access.dialog_id,
            sender_id=user, recipient_ids=[u for u in audience if u != user], origin=origin,
            payload={"message_id": message.id, "user_id": user, "add": added,
                     "remove": to_remove[0] if to_remove else None, "removed": to_remove,
                     "dialog_type": int(access.type), "message_sender_id": message.sender_id}))
