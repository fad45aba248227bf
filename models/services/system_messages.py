"""System messages (`POST /chat/Message/system`): not stored, published as `system_message` for
the bridge to deliver as a headline to one user or to the other occupants of a dialog."""
from __future__ import annotations

import json
from typing import Any

from config.settings import LimitSettings
from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher
from models.messages import MAX_CUSTOM_KEYS, SystemMessageDraft, check_key, check_value
from models.requester import Requester, require_user
from models.services.access import AccessService, DialogAccess
from models.storage.ids import new_id
from models.storage.users import UserStore

Doc = dict[str, Any]


class SystemMessageService:
    def __init__(self, users: UserStore, access: AccessService, publisher: EventPublisher,
                 limits: LimitSettings) -> None:
        self._users = users
        self._access = access
        self._publisher = publisher
        self._limits = limits

    async def send(self, requester: Requester, draft: SystemMessageDraft) -> Doc:
        require_user(requester)
        extension = draft.extension
        if len(extension) > MAX_CUSTOM_KEYS:
            raise InvalidError(f"too many parameters (maximum is {MAX_CUSTOM_KEYS})", field="base")
        for key, value in extension.items():
            check_key(key, key)
            check_value(value, key, 1)
        size = len(json.dumps(extension, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > self._limits.max_message_bytes:
            raise InvalidError(f"is too large (maximum is {self._limits.max_message_bytes} bytes)",
                               field="base")
        dialog: DialogAccess | None = None
        if draft.recipient_id is not None:
            recipient = draft.recipient_id
            if await self._users.get(requester.app_id, recipient) is None:
                raise NotFoundError("User not found")
            recipients = [recipient]
        elif draft.dialog_id is not None:
            dialog = await self._access.dialog_for(requester, draft.dialog_id)
            if not dialog.is_occupant:
                raise ForbiddenError("You are not an occupant of this dialog")
            recipients = [u for u in await self._access.audience(dialog) if u != requester.user_id]
            recipient = 0
        else:
            raise InvalidError("can't be blank", field="recipientId")
        message_id = new_id()
        await self._publisher.publish(Event(
            kind="system_message", app_id=requester.app_id,
            dialog_id=dialog.dialog_id if dialog else None, sender_id=requester.user_id,
            recipient_ids=recipients,
            payload={"id": message_id, "extension": extension, "user_id": requester.user_id}))
        out: Doc = {"messageId": message_id, "recipientId": recipient, "extensionParams": extension}
        if dialog is not None:
            out["chat_dialog_id"] = dialog.dialog_id
        return out
