"""The embedded store's outbox: only this process can publish or consume, and nothing the
embedded store holds survives the process, so the events are kept in memory, in order, and an
event leaves as soon as every registered consumer has marked it (a busy minute left tens of
thousands of handled events in mongomock, and storing each one cost as much as storing the message
itself). The age limit drops events from the front, no scan needed. Consumer names still go to
`outbox_consumers`, as on MongoDB (models/storage/outbox.py)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId
from mongomock.filtering import filter_applies

from models.storage.outbox import OutboxStore


class LocalOutboxStore(OutboxStore):
    """The embedded store's outbox: events in this process's memory (see the module text)."""

    local = True

    def __init__(self, db) -> None:
        super().__init__(db)
        self._events: dict[ObjectId, dict[str, Any]] = {}  # in publish order (= id order)
        self._registered: set[str] = set()
        self._last_id: ObjectId | None = None

    def _next_id(self) -> ObjectId:
        """Strictly increasing ids (ObjectId's counter starts at random and may wrap within a
        second): `pending(after=...)` relies on id order being publish order."""
        oid = ObjectId()
        if self._last_id is not None and oid <= self._last_id:
            oid = ObjectId((int.from_bytes(self._last_id.binary, "big") + 1).to_bytes(12, "big"))
        self._last_id = oid
        return oid

    async def _store(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            doc["_id"] = self._next_id()
            self._events[doc["_id"]] = doc

    async def register_consumer(self, consumer: str) -> None:
        await super().register_consumer(consumer)
        self._registered.add(consumer)

    async def pending(self, consumer: str, limit: int = 100, after: Any = None) -> list[dict[str, Any]]:
        out = []
        for doc in self._events.values():  # in insertion order, which is id order here
            if after is not None and doc["_id"] <= after:
                continue
            if consumer not in doc["done_by"]:
                out.append(_copy(doc))
                if len(out) >= limit:
                    break
        return out

    async def mark_done(self, consumer: str, event_id: Any) -> None:
        await self.mark_done_many(consumer, [event_id])

    async def mark_done_many(self, consumer: str, event_ids: list[Any]) -> None:
        registered = self._registered
        for event_id in event_ids:
            doc = self._events.get(event_id)
            if doc is None:
                continue
            done = doc["done_by"]
            if consumer not in done:
                done.append(consumer)
            if registered and registered.issubset(done):  # nobody else will read it
                del self._events[event_id]

    async def prune(self, done_grace_seconds: float = 60, max_age_seconds: float = 24 * 3600,
                    chunk: int = 500) -> int:
        """Handled events left already; events past the age limit go from the front. (The
        grace period is for consumers in other processes: there are none.)"""
        too_old = datetime.now(timezone.utc) - timedelta(seconds=max_age_seconds)
        removed = 0
        events = self._events
        while events:
            first = next(iter(events))
            if events[first]["created_at"] >= too_old:
                break
            del events[first]
            removed += 1
            if removed % chunk == 0:
                await asyncio.sleep(0)
        return removed

    async def backlog(self) -> dict[str, tuple[int, datetime | None]]:
        """As on MongoDB, from memory: one walk over the events not every consumer has done."""
        out: dict[str, tuple[int, datetime | None]] = {name: (0, None) for name in self._registered}
        for doc in list(self._events.values()):  # in publish order: the first seen is the oldest
            for name in self._registered:
                if name not in doc["done_by"]:
                    count, oldest = out[name]
                    out[name] = (count + 1, oldest or doc["created_at"])
        return out

    async def count(self, query: dict[str, Any] | None = None) -> int:
        if not query:
            return len(self._events)
        return sum(1 for doc in list(self._events.values()) if filter_applies(query, doc))

    async def find(self, query: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        out = []
        for doc in list(self._events.values()):
            if filter_applies(query, doc):
                out.append(_copy(doc))
                if len(out) >= limit:
                    break
        return out


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "done_by": list(doc["done_by"])}
