"""Read and delivered marks, read positions and unread counts.

A message is read by a user when their id is in its `read_ids`; each member keeps a read position
(`last_read_seq`, compacted to just before their oldest unread message), so an unread count is
`seq > position` minus what they read out of order (models/storage/SCHEMA.md). Marks publish
`messages_read` / `messages_delivered` to the senders of the marked messages.
"""
from __future__ import annotations

from typing import Any

from config.settings import LimitSettings
from models.clock import Clock
from models.errors import InvalidError, NotFoundError
from models.events import Event, EventPublisher, Origin
from models.messages import MAX_EVENT_IDS, Message, MessageUpdate
from models.requester import Requester, require_user
from models.services.access import BROADCAST, PUBLIC, AccessService, DialogAccess
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore

Doc = dict[str, Any]


class ReceiptService:
    def __init__(self, messages: MessageStore, dialogs: DialogStore, members: MemberStore,
                 access: AccessService, clock: Clock, publisher: EventPublisher,
                 limits: LimitSettings) -> None:
        self._messages = messages
        self._dialogs = dialogs
        self._members = members
        self._access = access
        self._clock = clock
        self._publisher = publisher
        self._limits = limits

    # -- marks by id (REST PUT, the bridge's receipts) -----------------------------------------------
    async def mark_read(self, requester: Requester, message_ids: list[str],
                        origin: Origin | None = None) -> None:
        """For the bridge's `<displayed>` receipts: like `PUT read=1` (unknown ids are ignored)."""
        for access, messages in await self._access.visible_messages(requester, message_ids, None):
            await self.mark_page_read(access, messages, origin)

    async def mark_delivered(self, requester: Requester, message_ids: list[str],
                             origin: Origin | None = None) -> None:
        """For the bridge's `<received>` receipts."""
        for access, messages in await self._access.visible_messages(requester, message_ids, None):
            await self._mark_docs_delivered(access, messages, origin)

    async def mark(self, requester: Requester, change: MessageUpdate) -> None:
        """The marks of `PUT /chat/Message[/{ids}]`: the given messages, or without ids everything
        in `change.dialog_id`."""
        if change.ids:
            groups = await self._access.visible_messages(requester, list(change.ids),
                                                         change.dialog_id)
            if not groups:
                raise NotFoundError("Message not found")
            for access, messages in groups:
                if change.read:
                    await self.mark_page_read(access, messages)
                elif change.delivered:
                    await self._mark_docs_delivered(access, messages)
            return
        if change.dialog_id is None:
            raise InvalidError("can't be blank", field="chat_dialog_id")
        access = await self._access.dialog_for(requester, change.dialog_id)
        if change.read:
            await self.mark_all_read(access)
        else:
            await self._mark_all_delivered(access)

    # -- read ------------------------------------------------------------------------------------
    async def mark_page_read(self, access: DialogAccess, messages: list[Message],
                             origin: Origin | None = None) -> list[Message]:
        """These messages (of one dialog, in its order) become read for the caller; returns them
        as they are now (read and delivered by the caller, one more view where counted)."""
        viewer = access.user_id
        new = [i for i, m in enumerate(messages) if viewer not in m.read_ids and m.sender_id != viewer]
        if new:
            now = self._clock.now()
            count_view = access.type in (BROADCAST, PUBLIC)
            await self._messages.mark_read(access.app_id, [messages[i].id for i in new], viewer,
                                           now, count_view)
            messages = list(messages)
            for i in new:
                message = messages[i]
                delivered = message.delivered_ids if viewer in message.delivered_ids \
                    else (*message.delivered_ids, viewer)
                messages[i] = message._replace(read_ids=(*message.read_ids, viewer),
                                      delivered_ids=delivered, updated_at=now,
                                      views_count=message.views_count + 1 if count_view
                                      else message.views_count)
        await self._compact_read_position(access, max(m.seq for m in messages))
        if new:
            await self._publish_marks("messages_read", access, [messages[i] for i in new],
                                      origin=origin)
        return messages

    async def mark_all_read(self, access: DialogAccess) -> None:
        """Everything up to the dialog's current seq becomes read for this member."""
        viewer, upto = access.user_id, access.dialog.seq
        member = access.member or {}
        position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
        if upto <= position:
            return
        app_id = access.app_id
        messages = await self._messages.unread_in_range(app_id, access.dialog_id, viewer, position,
                                                        upto, MAX_EVENT_IDS)
        if messages:
            await self._messages.mark_range_read(app_id, access.dialog_id, viewer, position, upto,
                                                 self._clock.now(),
                                                 access.type in (BROADCAST, PUBLIC))
        if await self._reader_member(access) is not None:
            await self._members.advance_read(access.dialog_id, viewer, upto)
        if messages:
            await self._publish_marks("messages_read", access, messages, {"up_to_seq": upto})

    async def _compact_read_position(self, access: DialogAccess, upto_seq: int) -> None:
        """Moves the member's last_read_seq to just before their oldest unread message (or to
        `upto_seq`, the newest message just read, when none is left), so unread counts stay
        `seq > last_read_seq` minus read_ids (see SCHEMA.md)."""
        if upto_seq <= 0:
            return
        member = await self._reader_member(access)
        if member is None:
            return
        position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
        if upto_seq <= position:
            return
        first_unread = await self._messages.first_unread_seq(access.dialog_id, access.user_id, position)
        target = upto_seq if first_unread is None else first_unread - 1
        if target > position:
            await self._members.advance_read(access.dialog_id, access.user_id, target)

    async def _reader_member(self, access: DialogAccess) -> Doc | None:
        """The caller's membership; a broadcast reader without one gets it now (it holds their
        read position: nothing read yet, 0)."""
        if access.member is None and access.type == BROADCAST:
            access.member = await self._members.ensure(
                access.app_id, access.dialog_id, access.user_id,
                {"joined_at": self._clock.now()})
        return access.member

    # -- delivered -------------------------------------------------------------------------------
    async def _mark_docs_delivered(self, access: DialogAccess, messages: list[Message],
                                   origin: Origin | None = None) -> None:
        viewer = access.user_id
        new = [m for m in messages if viewer not in m.delivered_ids and m.sender_id != viewer]
        if not new:
            return
        await self._messages.mark_delivered(access.app_id, [m.id for m in new], viewer,
                                            self._clock.now())
        await self._publish_marks("messages_delivered", access, new, origin=origin)

    async def _mark_all_delivered(self, access: DialogAccess) -> None:
        viewer, app_id = access.user_id, access.app_id
        messages = await self._messages.undelivered(app_id, access.dialog_id, viewer,
                                                    access.cleared_seq, MAX_EVENT_IDS)
        if not messages:
            return
        await self._messages.mark_all_delivered(app_id, access.dialog_id, viewer, access.cleared_seq,
                                                self._clock.now())
        await self._publish_marks("messages_delivered", access, messages)

    async def _publish_marks(self, kind: str, access: DialogAccess, messages: list[Message],
                             extra: Doc | None = None, origin: Origin | None = None) -> None:
        senders = sorted({m.sender_id for m in messages if m.sender_id != access.user_id})
        marked = messages[:MAX_EVENT_IDS]
        await self._publisher.publish(Event(
            kind=kind, app_id=access.app_id, dialog_id=access.dialog_id,
            sender_id=access.user_id, recipient_ids=senders, origin=origin,
            payload={"message_ids": [m.id for m in marked],
                     "senders": {m.id: m.sender_id for m in marked},
                     "user_id": access.user_id, "dialog_type": int(access.type), **(extra or {})}))

    # -- visibility after a new message ----------------------------------------------------------
    async def show_again(self, dialog_id: str) -> None:
        """A new message shows the dialog again to members who hid it ("deleted for me")."""
        await self._members.unhide_all(dialog_id)

    # -- unread counts ---------------------------------------------------------------------------
    async def unread_counts(self, requester: Requester, dialog_ids: list[str] | None) -> dict[str, int]:
        """`{"total": n}` over all the caller's (visible) dialogs, or `{"total": n, id: n...}` over
        the listed ones that are the caller's (others are left out: no probing)."""
        require_user(requester)
        wanted = [str(d) for d in dialog_ids or []]
        if len(wanted) > self._limits.max_ids_per_request:
            raise InvalidError(f"too many ids (maximum is {self._limits.max_ids_per_request})",
                               field="chat_dialog_ids")
        if wanted:
            members = await self._members.get_many([d for d in wanted if is_object_id(d)],
                                                   requester.user_id)
            members = {d: m for d, m in members.items() if m.get("app_id") == requester.app_id}
        else:
            members = {m["dialog_id"]: m for m in await self._members.for_user(
                requester.app_id, requester.user_id, include_hidden=True)}
        # broadcast dialogs of the app are the caller's too: without a membership, nothing read
        for dialog_id in await self._dialogs.broadcast_ids(requester.app_id):
            if dialog_id not in members and (not wanted or dialog_id in wanted):
                members[dialog_id] = {"dialog_id": dialog_id, "user_id": requester.user_id}
        if not wanted:
            members = {d: m for d, m in members.items() if not m.get("hidden")}
        counts: dict[str, int] = {}
        for dialog_id, member in members.items():
            counts[dialog_id] = await self.unread_for_member(member)
        out: dict[str, int] = {"total": sum(counts.values())}
        if wanted:
            out.update({d: counts[d] for d in wanted if d in counts})
        return out

    async def unread_for_member(self, member: Doc) -> int:
        position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
        return await self._messages.count_unread(member["dialog_id"], member["user_id"], position)
