"""The outbox: domain events waiting for the bridge relay and the push worker.

Each event is stored before anyone is told about it, so a consumer that restarts picks up what it
missed. Consumers mark what they processed in `done_by` (one entry per consumer name) and register
their names in `outbox_consumers` (persistent, so every process knows them). A consumer in the
publishing process reads from a `Tap` (a copy of each event right after it is stored) and queries
`pending` only when it must (models/services/outbox.py: `OutboxReader`).

Two stores with one interface:
- `OutboxStore`, the `outbox` collection of a shared MongoDB: `prune` removes events every
  registered consumer has handled (after a short grace period) and any event older than `max_age`.
- `LocalOutboxStore`, for the embedded store: only this process can publish or consume, and
  nothing the embedded store holds survives the process, so the events are kept in memory, in
  order, and an event leaves as soon as every registered consumer has marked it (a busy minute
  left tens of thousands of handled events in mongomock, and storing each one cost as much as
  storing the message itself). The age limit drops events from the front, no scan needed.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId
from mongomock.filtering import filter_applies

from models.events import Event

TAP_LIMIT = 10_000


class Tap:
    """A copy of each event this process stores, right after the insert: a consumer's low-latency
    path. It is a hint, not the record: consumers still mark events done, and events published
    elsewhere, or dropped while the queue was full (`missed` is then set), are found by `pending`."""

    def __init__(self, limit: int = TAP_LIMIT) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.limit = limit
        self.missed = False

    def offer(self, doc: dict[str, Any]) -> None:
        if self.queue.qsize() < self.limit:
            self.queue.put_nowait(doc)
        else:
            self.missed = True


class OutboxStore:
    local = False  # other processes may publish and consume too

    def __init__(self, db) -> None:
        self._col = db["outbox"]
        self._consumers = db["outbox_consumers"]
        self._listeners: list[asyncio.Event] = []
        self._taps: list[Tap] = []

    async def publish(self, event: Event) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: list[Event]) -> None:
        """Stores the events (one write), then tells this process's listeners and taps."""
        if not events:
            return
        now = datetime.now(timezone.utc)
        docs = []
        fields = tuple(Event.model_fields)
        for event in events:
            doc = {name: getattr(event, name) for name in fields}  # the store copies (BSON) itself
            if event.origin is not None:  # consumers read it as {"transport", "stanza_id"}
                doc["origin"] = {"transport": event.origin.transport,
                                 "stanza_id": event.origin.stanza_id}
            doc["created_at"] = now
            doc["done_by"] = []
            docs.append(doc)
        await self._store(docs)
        for waiter in self._listeners:
            waiter.set()
        for tap in self._taps:
            for doc in docs:
                tap.offer({**doc, "done_by": []})

    async def _store(self, docs: list[dict[str, Any]]) -> None:
        if len(docs) == 1:
            await self._col.insert_one(docs[0])
        else:
            await self._col.insert_many(docs)

    def subscribe(self) -> asyncio.Event:
        """An asyncio.Event set whenever something is published in this process."""
        waiter = asyncio.Event()
        self._listeners.append(waiter)
        return waiter

    def tap(self) -> Tap:
        tap = Tap()
        self._taps.append(tap)
        return tap

    def untap(self, tap: Tap) -> None:
        with contextlib.suppress(ValueError):
            self._taps.remove(tap)

    async def pending(self, consumer: str, limit: int = 100, after: Any = None) -> list[dict[str, Any]]:
        """The first `limit` events `consumer` has not marked done, in order; only those after
        the event id `after` when given."""
        query: dict[str, Any] = {"done_by": {"$ne": consumer}}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._col.find(query).sort("_id", 1).limit(limit)
        return await cursor.to_list(length=limit)

    async def mark_done(self, consumer: str, event_id: Any) -> None:
        await self._col.update_one({"_id": event_id}, {"$addToSet": {"done_by": consumer}})

    async def mark_done_many(self, consumer: str, event_ids: list[Any]) -> None:
        if len(event_ids) == 1:
            await self.mark_done(consumer, event_ids[0])
        elif event_ids:
            await self._col.update_many({"_id": {"$in": list(event_ids)}},
                                        {"$addToSet": {"done_by": consumer}})

    async def register_consumer(self, consumer: str) -> None:
        await self._consumers.update_one(
            {"_id": consumer}, {"$set": {"seen_at": datetime.now(timezone.utc)}}, upsert=True)

    async def prune(self, done_grace_seconds: float = 60, max_age_seconds: float = 24 * 3600,
                    chunk: int = 500) -> int:
        """Deletes events handled by every registered consumer (older than the grace period) and
        events older than `max_age_seconds` whatever their state. Returns how many went. Works in
        chunks of `chunk` events, yielding to the event loop between them."""
        now = datetime.now(timezone.utc)
        consumers = [d["_id"] async for d in self._consumers.find({})]
        removed = 0
        if consumers:
            removed += await self._delete_matching(
                {"done_by": {"$all": consumers},
                 "created_at": {"$lt": now - timedelta(seconds=done_grace_seconds)}}, chunk)
        return removed + await self._delete_matching(
            {"created_at": {"$lt": now - timedelta(seconds=max_age_seconds)}}, chunk)

    async def _delete_matching(self, query: dict[str, Any], chunk: int) -> int:
        removed = 0
        while True:
            ids = [d["_id"] for d in await self._col.find(query, {"_id": 1}).limit(chunk)
                   .to_list(length=chunk)]
            if ids:
                result = await self._col.delete_many({"_id": {"$in": ids}})
                removed += result.deleted_count
            if len(ids) < chunk:
                return removed
            await asyncio.sleep(0)

    async def count(self, query: dict[str, Any] | None = None) -> int:
        return await self._col.count_documents(query or {})

    async def find(self, query: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        return await self._col.find(query).sort("_id", 1).to_list(length=limit)


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
