"""The event feed (`GET /chat/events`) and message tombstones. See docs/architecture.md, "The event
feed", and models/storage/SCHEMA.md (`feed`, `feed_shares`, `message_tombstones`).

Writing: `FeedWriter` is the services' `EventPublisher`. It turns each batch of domain events into
feed entries, stores them in one write, and only then hands the same events to the outbox: an
event a consumer delivers is in the feed already, and a send batch (models/services/batcher.py)
stays one feed write. An event of a dialog with at most `feed.fanout_max_members` members becomes
one personal entry per member; an event of a bigger, public or broadcast dialog one shared entry,
which its members read through their `feed_shares` (kept by this writer from the membership
changes the events carry). Personal state (read marks, one's own dialog settings, bans, blocks,
a deleted dialog) is always personal.

Reading: `FeedService.page` is one range read of the store: the user's personal key and the shared
keys of their big dialogs (and the app's broadcast dialogs), merged by cursor.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from config.settings import FeedSettings
from models.clock import Clock
from models.errors import GoneError, InvalidError
from models.events import Event, EventPublisher
from models.feed import (ADMINS_CHANGED, BANNED, BLOCKS_CHANGED, DIALOG_CREATED, DIALOG_DELETED,
                         DIALOG_UPDATED, MESSAGE_CREATED, MESSAGE_DELETED, MESSAGE_UPDATED,
                         MESSAGES_DELIVERED, MESSAGES_READ, OCCUPANTS_ADDED, OCCUPANTS_REMOVED,
                         PINS_CHANGED, REACTIONS_CHANGED, SETTINGS_CHANGED, UNBANNED, Cursor,
                         FeedItem, FeedPage, Tombstone)
from models.messages import HistoryQuery, Message
from models.requester import Requester, require_user
from models.services.access import BROADCAST, PUBLIC, AccessService
from models.storage.dialogs import DialogStore
from models.storage.feed import FeedStore, TombstoneStore, dialog_key, user_key
from models.storage.members import MemberStore

logger = logging.getLogger(__name__)

Doc = dict[str, Any]

# Events of a user's own state: personal entries for the event's recipients (and its actor).
PERSONAL_KINDS = {"membership_updated": SETTINGS_CHANGED}
# The block list (models/services/blocklist.py): the owner's other devices learn of each change;
# the users blocked are not told (they are the event's recipients, for Prosody's cache only).
OWNER_KINDS = {"blocklist_updated": BLOCKS_CHANGED}
# dialog fields whose change is an item of its own
_OWN_TYPES = {"occupants_ids", "admins_ids", "pinned_messages_ids", "banned_ids"}


class _Entry:
    """One feed item before it is stored: its keys are "shared" (the dialog's) or user ids."""

    __slots__ = ("type", "dialog_id", "message_id", "data", "users", "shared")

    def __init__(self, type_: str, dialog_id: str | None, message_id: str | None, data: Doc,
                 users: list[int], shared: bool = False) -> None:
        self.type, self.dialog_id, self.message_id, self.data = type_, dialog_id, message_id, data
        self.users, self.shared = users, shared


class FeedWriter:
    """An `EventPublisher`: feed entries first (one write per batch), then the wrapped publisher."""

    def __init__(self, inner: EventPublisher, store: FeedStore, dialogs: DialogStore,
                 access: AccessService, clock: Clock, settings: FeedSettings) -> None:
        self._inner = inner
        self._store = store
        self._dialogs = dialogs
        self._access = access
        self._clock = clock
        self._settings = settings
        self._shared: set[str] = set()  # dialogs whose members' shares this process completed

    async def publish(self, event: Event) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: list[Event]) -> None:
        await self.write(events)
        await self._inner.publish_many(events)

    # -- events → entries ------------------------------------------------------------------------
    async def write(self, events: list[Event]) -> None:
        planned: list[tuple[Event, list[_Entry]]] = []
        for event in events:
            entries = self._entries(event)
            if entries:
                planned.append((event, entries))
        count = sum(self._width(e) for _, entries in planned for e in entries)
        if not count:
            return
        last = await self._store.take_cursors(count)
        cursor = last - count
        now = self._clock.now()
        expires = now + timedelta(days=self._settings.retention_days)
        docs: list[Doc] = []
        for event, entries in planned:
            if event.kind == "dialog_updated" and event.payload.get("removed_ids"):
                # the removed read the dialog's shared entries up to this change, not after
                await self._store.unshare(event.dialog_id or "", list(event.payload["removed_ids"]),
                                          cursor, now)
            elif event.kind == "dialog_deleted":
                await self._store.unshare_dialog(event.dialog_id or "")
            for entry in entries:
                first = cursor + 1
                if entry.shared and entry.dialog_id is not None:
                    await self._before_shared(event, entry, first)
                    keys = [dialog_key(entry.dialog_id)]
                else:
                    keys = [user_key(event.app_id, u) for u in dict.fromkeys(entry.users)]
                for key in keys:
                    cursor += 1
                    docs.append({"_id": cursor, "app_id": event.app_id, "key": key,
                                 "type": entry.type, "dialog_id": entry.dialog_id,
                                 "message_id": entry.message_id, "actor_id": event.sender_id,
                                 "at": now, "expires_at": expires, "data": entry.data})
        await self._store.insert_many(docs)

    @staticmethod
    def _width(entry: _Entry) -> int:
        return 1 if entry.shared and entry.dialog_id is not None else len(dict.fromkeys(entry.users))

    async def _before_shared(self, event: Event, entry: _Entry, cursor: int) -> None:
        """The members who read this shared entry have their shares: once per dialog and
        process all of them (from just before it), then whoever each change adds."""
        dialog_id = entry.dialog_id
        assert dialog_id is not None
        if event.payload.get("dialog_type") == BROADCAST:
            return  # every reader of the app reads it (FeedService.page)
        if dialog_id not in self._shared:
            dialog = await self._dialogs.get(event.app_id, dialog_id)
            if dialog is not None:
                audience = await self._access.audience_of(dialog)
                await self._store.share(event.app_id, dialog_id, audience, cursor - 1)
            self._shared.add(dialog_id)
        if entry.type == OCCUPANTS_ADDED:
            await self._store.share(event.app_id, dialog_id, entry.data["user_ids"], cursor - 1)

    def _is_shared(self, event: Event) -> bool:
        if event.payload.get("dialog_type") in (PUBLIC, BROADCAST):
            return True
        # recipients never include the actor (SCHEMA.md, outbox): no set needed for big dialogs
        recipients = event.recipient_ids
        if len(recipients) > self._settings.fanout_max_members:
            return True
        return len(set(recipients) | {event.sender_id}) > self._settings.fanout_max_members

    def _entries(self, event: Event) -> list[_Entry]:
        kind, payload, dialog_id = event.kind, event.payload, event.dialog_id
        shared = self._is_shared(event)
        # a shared entry's readers are the dialog's shares: its members are listed only when
        # they get one entry each (and for the removals of a membership change)
        members = [] if shared and kind not in ("dialog_updated", "dialog_deleted") else \
            list(dict.fromkeys([*event.recipient_ids, event.sender_id]))

        def dialog_entry(type_: str, message_id: str | None, data: Doc) -> _Entry:
            return _Entry(type_, dialog_id, message_id, data, members, shared)

        if kind == "message_created":
            if not payload.get("save_to_history", True):
                return []  # not stored: nothing to catch up on
            message = payload.get("message") or {}
            return [dialog_entry(MESSAGE_CREATED, str(message.get("_id")), {"message": message})]
        if kind == "message_updated":
            return [dialog_entry(MESSAGE_UPDATED, payload.get("message_id"),
                                 {"message": payload.get("message"), "last": payload.get("last")})]
        if kind == "message_deleted":
            data = {"deleted_by": event.sender_id}
            return [dialog_entry(MESSAGE_DELETED, mid, data) for mid in payload.get("message_ids", [])]
        if kind == "reactions_updated":
            return [dialog_entry(REACTIONS_CHANGED, payload.get("message_id"),
                                 {"user_id": payload.get("user_id"), "add": payload.get("add"),
                                  "removed": payload.get("removed") or []})]
        if kind in ("messages_read", "messages_delivered"):
            return self._marks(event)
        if kind == "dialog_created":
            return [dialog_entry(DIALOG_CREATED, None, {k: v for k, v in payload.items()})]
        if kind == "dialog_updated":
            return self._dialog_updated(event, members, shared)
        if kind == "dialog_deleted":  # the members are gone with it: each gets their own
            self._shared.discard(dialog_id or "")
            return [_Entry(DIALOG_DELETED, dialog_id, None, {"type": payload.get("type")}, members)]
        if kind in PERSONAL_KINDS:
            return [_Entry(PERSONAL_KINDS[kind], dialog_id, None, dict(payload), members)]
        if kind in OWNER_KINDS:
            return [_Entry(OWNER_KINDS[kind], None, None, dict(payload), [event.sender_id])]
        return []

    @staticmethod
    def _marks(event: Event) -> list[_Entry]:
        """Each sender learns of the marks on their own messages; the reader's other devices
        of all of them."""
        payload = event.payload
        type_ = MESSAGES_READ if event.kind == "messages_read" else MESSAGES_DELIVERED
        senders: dict[str, int] = {str(k): int(v) for k, v in (payload.get("senders") or {}).items()}
        ids = list(payload.get("message_ids") or [])
        base = {"user_id": event.sender_id}
        if "up_to_seq" in payload:
            base["up_to_seq"] = payload["up_to_seq"]
        out = [_Entry(type_, event.dialog_id, None, {**base, "message_ids": ids}, [event.sender_id])]
        for sender in sorted(set(senders.values()) - {event.sender_id}):
            mine = [m for m in ids if senders.get(m) == sender]
            out.append(_Entry(type_, event.dialog_id, None, {**base, "message_ids": mine}, [sender]))
        return out

    def _dialog_updated(self, event: Event, members: list[int], shared: bool) -> list[_Entry]:
        payload, dialog_id = event.payload, event.dialog_id
        fields = set(payload.get("fields") or [])
        values = dict(payload.get("values") or {})
        added = list(payload.get("added_ids") or [])
        removed = list(payload.get("removed_ids") or [])
        banned, unbanned = payload.get("banned_id"), payload.get("unbanned_id")
        staying = [u for u in members if u not in removed]
        out: list[_Entry] = []

        def common(type_: str, data: Doc) -> None:
            out.append(_Entry(type_, dialog_id, None, data, staying, shared))

        if added:
            common(OCCUPANTS_ADDED, {"user_ids": added})
        if removed:
            leavers = [u for u in removed if u != banned]
            data = {"user_ids": removed}
            # the removed learn of it in their own feed: the dialog's entries are no longer theirs
            if leavers:
                out.append(_Entry(OCCUPANTS_REMOVED, dialog_id, None, data, leavers))
            if staying or shared:
                common(OCCUPANTS_REMOVED, data)
        if banned is not None:
            out.append(_Entry(BANNED, dialog_id, None, {"user_id": banned}, [int(banned)]))
        if unbanned is not None:
            out.append(_Entry(UNBANNED, dialog_id, None, {"user_id": unbanned}, [int(unbanned)]))
        if "admins_ids" in fields:
            common(ADMINS_CHANGED, {"admins_ids": values.get("admins_ids")})
        if "pinned_messages_ids" in fields:
            common(PINS_CHANGED, {"pinned_messages_ids": values.get("pinned_messages_ids")})
        rest = sorted(fields - _OWN_TYPES)
        if rest:
            common(DIALOG_UPDATED, {"fields": rest, "values": {k: values[k] for k in rest
                                                               if k in values}})
        return [e for e in out if e.users or e.shared]



class FeedService:
    def __init__(self, store: FeedStore, tombstones: TombstoneStore, dialogs: DialogStore,
                 members: MemberStore, access: AccessService, clock: Clock,
                 settings: FeedSettings) -> None:
        self._store = store
        self._tombstones = tombstones
        self._dialogs = dialogs
        self._members = members
        self._access = access
        self._clock = clock
        self._settings = settings

    def _now_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)

    async def page(self, requester: Requester, since: str | None, limit: int | None) -> FeedPage:
        """What changed for the caller after `since`, oldest first; no `since`: the current
        cursor and no items (where a client starts)."""
        require_user(requester)
        limit = self._settings.max_page if limit is None else limit
        if not 1 <= limit <= self._settings.max_page:
            raise InvalidError(f"must be between 1 and {self._settings.max_page}", field="limit")
        now_ms = self._now_ms()
        if since is None:
            return FeedPage([], Cursor(await self._store.current(), now_ms), False)
        cursor = Cursor.parse(since)
        if cursor.stamp_ms > now_ms + 60_000 or cursor.position > await self._store.current():
            raise InvalidError("is not a feed cursor of this server", field="since")
        if cursor.stamp_ms < now_ms - self._settings.retention_days * 86_400_000:
            raise GoneError("is older than the feed's retention: read the dialogs and their "
                            "history again, then start from a new cursor", field="since")
        position = cursor.position
        keys: dict[str, tuple[int, int | None]] = {
            user_key(requester.app_id, requester.user_id): (position, None)}
        for dialog_id, (start, until) in (await self._store.shares_for(
                requester.app_id, requester.user_id)).items():
            if until is None or until > position:
                keys[dialog_key(dialog_id)] = (max(position, start), until)
        broadcasts = await self._dialogs.broadcast_ids(requester.app_id)
        if broadcasts:
            left = {d for d, m in (await self._members.get_many(broadcasts, requester.user_id)).items()
                    if m.get("left")}
            for dialog_id in broadcasts:
                if dialog_id not in left:
                    keys[dialog_key(dialog_id)] = (position, None)
        docs = await self._store.page(keys, limit + 1)
        more = len(docs) > limit
        docs = docs[:limit]
        items = [FeedItem(int(d["_id"]), d["type"], d.get("dialog_id"), d.get("message_id"),
                          int(d.get("actor_id") or 0), d["at"], d.get("data") or {}) for d in docs]
        if more:  # complete up to the last item read: its time
            nxt = Cursor(items[-1].cursor, int(items[-1].at.timestamp() * 1000))
        else:  # complete up to now
            nxt = Cursor(items[-1].cursor if items else cursor.position, now_ms)
        return FeedPage(items, nxt, more)

    # -- tombstones ------------------------------------------------------------------------------
    async def bury(self, app_id: int, messages: list[Message], deleted_by: int) -> None:
        """Tombstones for messages deleted for everyone (before their documents go)."""
        now = self._clock.now()
        expires = now + timedelta(days=self._settings.retention_days)
        await self._tombstones.insert_many([
            {"_id": m.id, "app_id": app_id, "chat_dialog_id": m.dialog_id, "seq": m.seq,
             "sender_id": m.sender_id, "date_sent": m.date_sent, "deleted_at": now,
             "deleted_by": deleted_by, "expires_at": expires} for m in messages])

    async def with_tombstones(self, requester: Requester, query: HistoryQuery,
                              page: list[Message], limit: int) -> list[Message | Tombstone]:
        """A history page with the dialog's tombstones in place: those whose position (the
        page's order: `date_sent`, then the dialog's seq) falls within the page, and, at the
        ends of the history, before its first or after its last message. `limit`: the page's
        own (a shorter page is the end of the history)."""
        access = await self._access.dialog_for(requester, query.dialog_id, preview=query.preview)
        docs = await self._tombstones.in_dialog(requester.app_id, access.dialog_id,
                                                access.cleared_seq, 10_000)
        if not docs:
            return list(page)
        descending = bool(query.sort) and query.sort[0][1] < 0
        by_date = not query.sort or query.sort[0][0] == "date_sent"

        def key(item: Message | Tombstone) -> tuple:
            return ((item.date_sent or 0) if by_date else 0, item.seq)

        tombs = [Tombstone.from_doc(d) for d in docs]
        if page:
            keys = [key(m) for m in page]
            low, high = min(keys), max(keys)
            first_page = query.skip == 0
            last_page = len(page) < limit
            if descending:
                first_page, last_page = last_page, first_page
            tombs = [t for t in tombs if (first_page or key(t) >= low)
                     and (last_page or key(t) <= high)]
        elif query.skip:
            tombs = []
        merged: list[Message | Tombstone] = [*page, *tombs]
        merged.sort(key=key, reverse=descending)
        return merged

    async def prune(self) -> int:
        now = self._clock.now()
        await self._store.prune_shares(now - timedelta(days=self._settings.retention_days))
        return await self._store.prune(now) + await self._tombstones.prune(now)

