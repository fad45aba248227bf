"""Chat messages: send (shared by REST and the XMPP bridge), history, edits and deletes.

Every write is followed (never preceded) by a domain event in the outbox: `message_created`,
`message_updated`, `message_deleted`. Read and delivered marks and unread counts are
`ReceiptService`'s (models/services/receipts.py), system messages `SystemMessageService`'s.
Messages outside the caller's application or dialogs answer "not found" (no probing).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Protocol

from config.settings import LimitSettings, RateLimitSettings
from models.clock import Clock
from models.dialogs import Dialog, LastMessage
from models.errors import ChatError, ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher, Origin
from models.messages import (PREVIEW_LIMIT, DeleteResult, HistoryQuery, Message, MessageDraft,
                             MessageEdit, MessagePage, MessageUpdate, string)
from models.requester import Requester, require_user
from models.services.access import (BROADCAST, PRIVATE, AccessService, DialogAccess,
                                    PrivateAccessMemo)
from models.services.blocklist import BlocklistService
from models.services.batcher import Batcher
from models.services.rate_limits import RateLimitService
from models.services.receipts import ReceiptService
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id, new_id
from models.storage.messages import MessageStore
from models.storage.users import UserStore

logger = logging.getLogger(__name__)

HISTORY_ORDER = (("date_sent", 1), ("_id", 1))


class PrivateDialogs(Protocol):
    """The dialog service's private-dialog lookup (creates the type 3 dialog on first message)."""

    async def find_or_create_private(self, requester: Requester, other_user_id: int) -> Dialog: ...


class MessageService:
    def __init__(self, messages: MessageStore, dialogs: DialogStore, users: UserStore,
                 access: AccessService, receipts: ReceiptService, clock: Clock,
                 publisher: EventPublisher, limits: LimitSettings,
                 private_dialogs: PrivateDialogs, private_access: PrivateAccessMemo,
                 rate_limits: RateLimitService | None = None,
                 blocklist: BlocklistService | None = None) -> None:
        self._messages = messages
        self._blocklist = blocklist  # 1:1 between a blocked pair is refused
        self._dialogs = dialogs
        self._users = users
        self._access = access
        self._receipts = receipts
        self._clock = clock
        self._publisher = publisher
        self._limits = limits
        self._private = private_dialogs
        self._private_access = private_access
        self._rate_limits = rate_limits or RateLimitService(RateLimitSettings())
        self._batcher: Batcher[tuple[Requester, MessageDraft], Message] = Batcher(self.send_many)

    # -- send --------------------------------------------------------------------------------------
    async def send(self, requester: Requester, draft: MessageDraft) -> Message:
        """Authorizes, stores (idempotent on `draft.id`), takes the dialog seq, updates the dialog,
        shows the dialog again to members who hid it, then publishes `message_created`.
        Returns the stored message (the earlier one for a repeated id).

        Concurrent sends (REST requests, bridge copies) are group-committed (`Batcher`): one
        id lookup, one insert, one sequence update per dialog and one outbox write per batch.

        Counts against the sender's message rate limit (`send_batch`, the bridge's copies of 1:1
        stanzas Prosody has already delivered, does not: refusing to store those would lose them)."""
        self._rate_limits.message_sent(requester.app_id, requester.user_id)
        return await self._batcher.submit((requester, draft))

    async def send_batch(self, items: list[tuple[Requester, MessageDraft]]
                         ) -> list[Message | BaseException]:
        """Several sends at once, in order, sharing batches with concurrent `send`s: one result
        per item (the stored message, or the error that item gets)."""
        return await self._batcher.submit_many(items)

    async def send_many(self, items: list[tuple[Requester, MessageDraft]]
                        ) -> list[Message | Exception]:
        """The batch behind `send`: one result per item, in order (the stored message, or the
        ChatError that item gets). Items with an id that appears earlier in the batch run after
        it, so they see it as a repeat."""
        results: list[Message | Exception | None] = [None] * len(items)
        seen: set[str] = set()
        first: list[int] = []
        later: list[int] = []
        for index, (_, draft) in enumerate(items):
            if draft.id is not None and draft.id in seen:
                later.append(index)
            else:
                first.append(index)
                if draft.id is not None:
                    seen.add(draft.id)
        for part in (first, later):
            if part:
                for index, result in zip(part, await self._send_unique([items[i] for i in part])):
                    results[index] = result
        return results  # type: ignore[return-value]

    async def _send_unique(self, items: list[tuple[Requester, MessageDraft]]
                           ) -> list[Message | Exception]:
        results: list[Message | Exception | None] = [None] * len(items)
        accesses: dict[tuple[int, int, str], DialogAccess] = {}
        ready: list[tuple[int, Requester, MessageDraft, DialogAccess]] = []
        for index, (requester, draft) in enumerate(items):
            try:
                self._check_size(draft)
                key = (requester.app_id, requester.user_id, draft.dialog_id or "")
                access = accesses.get(key) if draft.dialog_id is not None else None
                if access is None and draft.dialog_id is not None and draft.save_to_history:
                    access = self._private_access.get(key)
                if access is None:
                    access = await self._target(requester, draft)
                    if draft.dialog_id is not None:
                        accesses[key] = access
                        if access.type == PRIVATE:
                            self._private_access.put(key, access)
                if not access.can_post():
                    raise ForbiddenError("You don't have permission to send messages to this dialog")
                ready.append((index, requester, draft, access))
            except ChatError as exc:
                if isinstance(exc, NotFoundError) and draft.dialog_id is not None:
                    self._private_access.forget(requester.app_id, draft.dialog_id)  # deleted
                results[index] = exc
        if self._blocklist is not None:
            ready = await self._unblocked(ready, results)
        # repeats of stored messages (ids are global: another application's id is a conflict)
        ids = [draft.id for _, _, draft, _ in ready if draft.id is not None]
        existing = await self._messages.find_any_app(ids) if ids else {}
        now = self._clock.now()
        stamp = int(now.timestamp())
        # (index, requester, draft, access, message id, date_sent) of each new message
        fresh: list[tuple[int, Requester, MessageDraft, DialogAccess, str, int]] = []
        for index, requester, draft, access in ready:
            if draft.id is not None and draft.id in existing:
                try:
                    results[index] = self._repeat(existing[draft.id], requester, access.dialog_id)
                except ChatError as exc:
                    results[index] = exc
                continue
            fresh.append((index, requester, draft, access, draft.id or new_id(),
                          draft.date_sent if draft.date_sent is not None else stamp))
        # one sequence update per dialog: a range of seqs, the batch's last message recorded
        by_dialog: dict[tuple[int, str], list[int]] = {}
        for position, (_, requester, draft, access, _, _) in enumerate(fresh):
            if draft.save_to_history:
                by_dialog.setdefault((requester.app_id, access.dialog_id), []).append(position)
        missing: set[tuple[int, str]] = set()
        unhide: list[str] = []  # dialogs a member hid: shown to them again by this message
        seqs: dict[int, int] = {}  # position in `fresh` -> seq
        for (app_id, dialog_id), positions in by_dialog.items():
            _, requester, draft, _, message_id, date_sent = fresh[positions[-1]]
            try:
                top, hidden = await self._dialogs.take_seqs(
                    app_id, dialog_id, LastMessage(draft.body, message_id, requester.user_id,
                                                   date_sent), now, len(positions))
            except LookupError:
                missing.add((app_id, dialog_id))
                self._private_access.forget(app_id, dialog_id)
                continue
            if hidden:
                unhide.append(dialog_id)
            first = top - len(positions) + 1
            for offset, position in enumerate(positions):
                seqs[position] = first + offset
        built = [self._new_message(requester, draft, access, message_id, date_sent, now,
                                   seqs.get(position, 0))
                 for position, (_, requester, draft, access, message_id, date_sent)
                 in enumerate(fresh)]
        to_store = [position for position, entry in enumerate(fresh) if entry[2].save_to_history
                    and (entry[1].app_id, entry[3].dialog_id) not in missing]
        stored = await self._messages.insert_many([built[p] for p in to_store]) if to_store else []
        stored_by_position = dict(zip(to_store, stored))
        events: list[Event] = []
        for position, (index, requester, draft, access, _, _) in enumerate(fresh):
            message = built[position]
            if draft.save_to_history:
                if (requester.app_id, access.dialog_id) in missing:
                    results[index] = NotFoundError("Dialog not found")
                    continue
                message, created = stored_by_position[position]
                if not created:  # a concurrent send with the same id won the race
                    try:
                        results[index] = self._repeat(message, requester, access.dialog_id)
                    except ChatError as exc:
                        results[index] = exc
                    continue
            results[index] = message
            events.append(await self._created_event(requester, draft, access, message))
        for dialog_id in unhide:
            await self._receipts.show_again(dialog_id)
        if events:
            await self._publisher.publish_many(events)
        return results  # type: ignore[return-value]

    async def _unblocked(self, ready: list[tuple[int, Requester, MessageDraft, DialogAccess]],
                         results: list[Message | Exception | None]
                         ) -> list[tuple[int, Requester, MessageDraft, DialogAccess]]:
        """`ready` without the private sends between a blocked pair (their result: forbidden);
        one read of the block lists per application in the batch."""
        assert self._blocklist is not None
        pairs: dict[int, set[tuple[int, int]]] = {}
        for _, requester, _, access in ready:
            if access.type == PRIVATE:
                pairs.setdefault(requester.app_id, set()).add(
                    (requester.user_id, self._private_peer(access)))
        if not pairs:
            return ready
        blocked = {(app_id, pair) for app_id, app_pairs in pairs.items()
                   for pair in await self._blocklist.blocked_pairs(app_id, app_pairs)}
        if not blocked:
            return ready
        kept = []
        for entry in ready:
            index, requester, _, access = entry
            peer = self._private_peer(access) if access.type == PRIVATE else 0
            if access.type == PRIVATE and (requester.app_id, frozenset((requester.user_id, peer))) in blocked:
                try:
                    await self._blocklist.check_pair(requester.app_id, requester.user_id, peer)
                except ChatError as exc:
                    results[index] = exc
                    continue
            kept.append(entry)
        return kept

    def _new_message(self, requester: Requester, draft: MessageDraft, access: DialogAccess,
                     message_id: str, date_sent: int, now: datetime, seq: int) -> Message:
        user = requester.user_id
        return Message(
            id=message_id, app_id=requester.app_id, dialog_id=access.dialog_id, sender_id=user,
            recipient_id=self._private_peer(access) if access.type == PRIVATE else 0,
            body=draft.body, date_sent=date_sent, seq=seq, created_at=now, updated_at=now,
            attachments=tuple(draft.attachments), read_ids=(user,), delivered_ids=(user,),
            custom=dict(draft.custom), markable=draft.markable)

    async def _created_event(self, requester: Requester, draft: MessageDraft, access: DialogAccess,
                             message: Message) -> Event:
        recipients = [uid for uid in await self._access.audience(access) if uid != requester.user_id]
        return Event(
            kind="message_created", app_id=requester.app_id, dialog_id=access.dialog_id,
            sender_id=requester.user_id, recipient_ids=recipients, origin=draft.origin,
            payload={"message": message.to_wire(), "custom": dict(draft.custom),
                     "dialog_type": int(access.type), "send_to_chat": draft.send_to_chat,
                     "save_to_history": draft.save_to_history, "markable": draft.markable,
                     "silent": draft.silent})

    def _check_size(self, draft: MessageDraft) -> None:
        limit = self._limits.max_message_bytes
        if len(draft.body.encode("utf-8", "surrogatepass")) > limit:
            raise InvalidError(f"is too long (maximum is {limit} bytes)", field="message")
        if not draft.attachments and not draft.custom:
            return
        extra = json.dumps([draft.attachments, draft.custom], ensure_ascii=False, default=str)
        if len(extra.encode("utf-8", "surrogatepass")) > limit:
            raise InvalidError(f"attachments and custom parameters exceed {limit} bytes", field="base")

    async def _target(self, requester: Requester, draft: MessageDraft) -> DialogAccess:
        require_user(requester)
        if draft.dialog_id is not None:
            return await self._access.dialog_for(requester, draft.dialog_id)
        if draft.recipient_id is None:
            raise InvalidError("chat_dialog_id or recipient_id is required", field="chat_dialog_id")
        if draft.recipient_id == requester.user_id:
            raise InvalidError("can't be yourself", field="recipient_id")
        if await self._users.get(requester.app_id, draft.recipient_id) is None:
            raise NotFoundError("User not found")
        dialog = await self._private.find_or_create_private(requester, draft.recipient_id)
        return await self._access.dialog_for(requester, dialog.id)

    @staticmethod
    def _repeat(existing: Message, requester: Requester, dialog_id: str) -> Message:
        if (existing.app_id != requester.app_id or existing.sender_id != requester.user_id
                or existing.dialog_id != dialog_id):
            raise ConflictError("message id is already used", field="_id")
        return existing

    @staticmethod
    def _private_peer(access: DialogAccess) -> int:
        others = [u for u in access.dialog.occupants_ids if u != access.user_id]
        return others[0] if others else 0


    # -- history -----------------------------------------------------------------------------------
    async def history(self, requester: Requester, query: HistoryQuery) -> MessagePage:
        """GET /chat/Message: filtered page of one dialog; marks the returned messages read unless
        `query.mark_read` is off. `preview` lets a non-member read the newest `PREVIEW_LIMIT` of a
        dialog that allows it (paging ignored)."""
        access = await self._access.dialog_for(requester, query.dialog_id, preview=query.preview)
        viewer, app_id, cleared = requester.user_id, requester.app_id, access.cleared_seq
        if not access.is_reader:  # preview: the newest 20, oldest first; paging params ignored
            found = await self._messages.page_history(app_id, access.dialog_id, viewer, cleared,
                                                      query.conditions, query.read,
                                                      (("seq", -1), ("_id", -1)), 0, PREVIEW_LIMIT)
            if query.count_only:
                return MessagePage([], 0, PREVIEW_LIMIT, count=len(found))
            found.sort(key=lambda m: (m.date_sent or 0, m.seq, m.id))
            return MessagePage(found, 0, PREVIEW_LIMIT)
        if query.count_only:
            return MessagePage([], 0, 0, count=await self._messages.count_history(
                app_id, access.dialog_id, viewer, cleared, query.conditions, query.read))
        skip, limit = query.skip, min(query.limit, self._limits.max_list_limit)
        sort = list(query.sort or HISTORY_ORDER)
        if sort[0][0] != "_id":  # equal date_sent: the dialog's own order, then the id
            sort.insert(1, ("seq", sort[0][1]))
        found = await self._messages.page_history(app_id, access.dialog_id, viewer, cleared,
                                                  query.conditions, query.read, tuple(sort), skip,
                                                  limit) if limit else []
        if query.mark_read and found:
            found = await self._receipts.mark_page_read(access, found)
        return MessagePage(found, skip, limit)

    async def update(self, requester: Requester, change: MessageUpdate) -> None:
        """PUT /chat/Message[/{ids}]: `body` edits one own message; `read` / `delivered` mark the
        given messages (or, without ids, everything in `dialog_id`)."""
        require_user(requester)
        if not change.edits and not change.read and not change.delivered:
            raise InvalidError("read, delivered or message is required", field="base")
        if change.edits:
            if not change.ids or len(change.ids) != 1:
                raise InvalidError("exactly one message id is required to edit", field="id")
            await self._edit(requester, change.ids[0], change.body, change.dialog_id, None,
                             change.edit)
        if change.read or change.delivered:
            await self._receipts.mark(requester, change)

    # -- edit --------------------------------------------------------------------------------------
    async def _edit(self, requester: Requester, message_id: str, body: str | None,
                    dialog_id: str | None, origin: Origin | None,
                    edit: MessageEdit | None = None) -> Message:
        """The author's edit: the body and / or (`edit`) attachments and custom parameters,
        within the limits of a send; `edited_at` is set and `message_updated` published (with
        the attachments and custom parameters after the edit when it changed them)."""
        if body is not None and \
                len(body.encode("utf-8", "surrogatepass")) > self._limits.max_message_bytes:
            raise InvalidError(f"is too long (maximum is {self._limits.max_message_bytes} bytes)",
                               field="message")
        groups = await self._access.visible_messages(requester, [message_id], dialog_id)
        if not groups:
            raise NotFoundError("Message not found")
        access, (message,) = groups[0]
        if message.sender_id != requester.user_id:
            raise ForbiddenError("You can edit only your own messages")
        now = self._clock.now()
        if edit:
            edited = edit.applied(message, body)
            self._check_size(MessageDraft(body=edited.body, attachments=list(edited.attachments),
                                          custom=dict(edited.custom)))
            updated = await self._messages.set_content(requester.app_id, edited, now)
        else:
            updated = await self._messages.set_body(requester.app_id, message.id, body or "", now)
        if updated is None:
            raise NotFoundError("Message not found")
        dialog = await self._dialogs.get(requester.app_id, access.dialog_id)
        is_last = bool(dialog and dialog.last_message_id == message.id)
        if is_last and updated.body != message.body:
            await self._dialogs.set_last_message_body(requester.app_id, access.dialog_id,
                                                      updated.body)
        recipients = [u for u in await self._access.audience(access) if u != requester.user_id]
        payload = {"message_id": message.id, "message": updated.body, "last": is_last,
                   "dialog_type": int(access.type), "user_id": requester.user_id}
        if edit:
            payload.update({"attachments": list(updated.attachments),
                            "custom": dict(updated.custom),
                            "edited_at": int(now.timestamp())})
        await self._publisher.publish(Event(
            kind="message_updated", app_id=requester.app_id, dialog_id=access.dialog_id,
            sender_id=requester.user_id, recipient_ids=recipients, origin=origin,
            payload=payload))
        return updated

    async def edit(self, requester: Requester, message_id: str, body: str,
                   origin: Origin | None = None) -> Message:
        """For the bridge's `<replace>` (XEP-0308) corrections: the author edits the stored body."""
        return await self._edit(requester, message_id, string(body, "message"), None, origin)

    # -- delete ------------------------------------------------------------------------------------
    async def delete(self, requester: Requester, ids: list[str], force: bool) -> DeleteResult:
        """Without force: hidden for the caller only. With force: removed for everyone, allowed for
        the author, and for admins/owner in group, public and broadcast dialogs."""
        require_user(requester)
        result = DeleteResult([], [], [])
        found: set[str] = set()
        for access, messages in await self._access.visible_messages(requester, ids, None):
            allowed: list[Message] = []
            for message in messages:
                found.add(message.id)
                if self._may_delete(access, message, force):
                    allowed.append(message)
                else:
                    result.wrong_permissions.append(message.id)
            if allowed:
                await self._delete_in_dialog(requester, access, allowed, force)
                result.deleted.extend(m.id for m in allowed)
        seen: set[str] = set()
        for mid in ids:
            key = mid.lower() if is_object_id(mid) else mid
            if key not in found and key not in seen:
                result.not_found.append(mid)
            seen.add(key)
        return result

    @staticmethod
    def _may_delete(access: DialogAccess, message: Message, force: bool) -> bool:
        if access.type == BROADCAST:  # regular users of a broadcast are readers only
            return access.is_admin
        if not force:
            return True
        if message.sender_id == access.user_id:
            return True
        return access.type != PRIVATE and access.is_admin

    async def _delete_in_dialog(self, requester: Requester, access: DialogAccess,
                                messages: list[Message], force: bool) -> None:
        app_id, ids = requester.app_id, [m.id for m in messages]
        if not force:
            await self._messages.hide_for(app_id, ids, requester.user_id)
            return
        await self._messages.delete_in_dialog(app_id, access.dialog_id, ids)
        dialog = await self._dialogs.get(app_id, access.dialog_id) or access.dialog
        if set(ids) & set(dialog.pinned_messages_ids):
            await self._dialogs.unpin(app_id, access.dialog_id, ids)
        if dialog.last_message_id in ids:
            last = await self._messages.last_visible(access.dialog_id, 0, 0)
            await self._dialogs.set_last_message(app_id, access.dialog_id,
                                                 LastMessage.of(last) if last else None)
        recipients = [u for u in await self._access.audience(access) if u != requester.user_id]
        await self._publisher.publish(Event(
            kind="message_deleted", app_id=app_id, dialog_id=access.dialog_id,
            sender_id=requester.user_id, recipient_ids=recipients,
            payload={"message_ids": ids, "dialog_type": int(access.type), "user_id": requester.user_id}))
