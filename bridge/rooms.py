"""In-memory real-time state of this bridge: who sits in which room, a short cache of room
audiences, and per-key serialisation of stanza handling.

Who *may* be in a room lives in Mongo (RoomService); who *is* in it lives here; who is online
where (each user's XMPP resources) is the shared `PresenceRegistry` (models/services/presence.py).
Everything here is rebuilt after a reconnect (Prosody re-sends every user's presence to the
privileged component).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Awaitable, Callable, Hashable

from models.services.presence import UserKey
from models.services.rooms import Room

__all__ = ["NameCache", "Occupancy", "Overloaded", "RoomCache", "RoomKey", "Serializer", "UserKey"]

logger = logging.getLogger(__name__)

RoomKey = tuple[int, str]  # (app_id, dialog_id)


class Occupancy:
    """MUC occupancy: room → user → joined full JIDs (a user may join from several devices)."""

    def __init__(self) -> None:
        self._rooms: dict[RoomKey, dict[int, set[str]]] = {}
        self._by_jid: dict[str, set[RoomKey]] = {}

    def join(self, room: RoomKey, user_id: int, full_jid: str) -> bool:
        """True when this full JID was not in the room yet."""
        jids = self._rooms.setdefault(room, {}).setdefault(user_id, set())
        if full_jid in jids:
            return False
        jids.add(full_jid)
        self._by_jid.setdefault(full_jid, set()).add(room)
        return True

    def leave(self, room: RoomKey, user_id: int, full_jid: str) -> bool:
        """True when the user has no joined device left in the room."""
        users = self._rooms.get(room)
        if not users or user_id not in users:
            return False
        users[user_id].discard(full_jid)
        rooms = self._by_jid.get(full_jid)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._by_jid[full_jid]
        if users[user_id]:
            return False
        del users[user_id]
        if not users:
            del self._rooms[room]
        return True

    def remove_user(self, room: RoomKey, user_id: int) -> set[str]:
        """Takes the user out of the room (kick); returns the full JIDs that were joined."""
        users = self._rooms.get(room) or {}
        jids = set(users.get(user_id) or ())
        for jid in jids:
            self.leave(room, user_id, jid)
        return jids

    def rooms_of(self, full_jid: str) -> set[RoomKey]:
        return set(self._by_jid.get(full_jid) or ())

    def occupants(self, room: RoomKey) -> dict[int, set[str]]:
        return {uid: set(jids) for uid, jids in (self._rooms.get(room) or {}).items()}

    def clear(self) -> None:
        self._rooms.clear()
        self._by_jid.clear()

    def room_count(self) -> int:
        return len(self._rooms)


class RoomCache:
    """Room audiences for a few seconds (typing and fan-out read them on every stanza); the relay
    invalidates a room when its dialog changes."""

    def __init__(self, loader: Callable[[int, str], Awaitable[Room]], ttl: float = 5.0,
                 max_size: int = 10000) -> None:
        self._loader = loader
        self._ttl = ttl
        self._max = max_size
        self._items: OrderedDict[RoomKey, tuple[float, Room]] = OrderedDict()

    async def get(self, app_id: int, dialog_id: str) -> Room:
        key = (app_id, dialog_id)
        hit = self._items.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        room = await self._loader(app_id, dialog_id)
        self._items[key] = (now + self._ttl, room)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)
        return room

    def invalidate(self, app_id: int, dialog_id: str) -> None:
        self._items.pop((app_id, dialog_id), None)

    def clear(self) -> None:
        self._items.clear()


class NameCache:
    """Users' display names (full name, else login) for a minute: the XEP-0172 `<nick>` of room
    messages and occupant presences, read on every room message. `loader(app_id, ids)` returns
    (user id, full name, login) of the users that exist."""

    def __init__(self, loader: Callable[[int, list[int]], Awaitable[list[tuple[int, str | None, str | None]]]],
                 ttl: float = 60.0, max_size: int = 100_000) -> None:
        self._loader = loader
        self._ttl = ttl
        self._max = max_size
        self._items: OrderedDict[UserKey, tuple[float, str]] = OrderedDict()

    def cached(self, app_id: int, user_id: int) -> str | None:
        hit = self._items.get((app_id, user_id))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    async def names(self, app_id: int, user_ids: list[int] | set[int]) -> dict[int, str]:
        """user id → display name ("" for a user without one, or gone)."""
        now = time.monotonic()
        out: dict[int, str] = {}
        missing: list[int] = []
        for uid in user_ids:
            hit = self._items.get((app_id, uid))
            if hit is not None and hit[0] > now:
                out[uid] = hit[1]
            else:
                missing.append(uid)
        if missing:
            found = {uid: full_name or login or "" for uid, full_name, login in await self._loader(app_id, missing)}
            for uid in missing:
                out[uid] = found.get(uid, "")
                self._items[(app_id, uid)] = (now + self._ttl, out[uid])
                self._items.move_to_end((app_id, uid))
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return out


class Overloaded(Exception):
    pass


class Serializer:
    """Runs jobs one at a time per key (a room, a dialog, a user pair) and concurrently across
    keys; at most `limit` jobs wait in total."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._queues: dict[Hashable, list[Callable[[], Awaitable[None]]]] = {}
        self._tasks: set[asyncio.Task] = set()
        self.pending = 0

    def submit(self, key: Hashable, job: Callable[[], Awaitable[None]]) -> None:
        if self.pending >= self._limit:
            raise Overloaded()
        self.pending += 1
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        self._queues[key] = [job]
        task = asyncio.create_task(self._drain(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue.pop(0)
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - one bad stanza must not stop the queue
                    logger.exception("stanza handler failed")
                finally:
                    self.pending -= 1
        finally:
            self.pending -= len(queue)
            queue.clear()
            self._queues.pop(key, None)

    async def idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return not self.pending

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
