"""The outbox: domain events waiting for the bridge relay and the push worker.

Each event is stored before anyone is told about it, so a consumer that restarts picks up what it
missed. Consumers mark what they processed in `done_by` (one entry per consumer name) and register
their names in `outbox_consumers` (persistent, so every process knows them). A consumer in the
publishing process reads from a `Tap` (a copy of each event right after it is stored) and queries
`pending` only when it must (models/services/outbox.py: `OutboxReader`).

`OutboxStore` is the `outbox` collection of a shared MongoDB: `prune` removes events every
registered consumer has handled (after a short grace period) and any event older than `max_age`.
The embedded store keeps its events in memory behind the same interface (`LocalOutboxStore` in
models/storage/embedded/outbox.py); the database hands out the right one (`outbox_store()`).
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone
from typing import Any

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

    async def backlog(self) -> dict[str, tuple[int, datetime | None]]:
        """For each registered consumer: how many events it has not marked done, and when the
        oldest of them was published (None when there is none)."""
        out: dict[str, tuple[int, datetime | None]] = {}
        async for consumer in self._consumers.find({}, {"_id": 1}):
            name = consumer["_id"]
            query = {"done_by": {"$ne": name}}
            count = await self._col.count_documents(query)
            oldest = None
            if count:
                first = await self._col.find_one(query, {"created_at": 1}, sort=[("_id", 1)])
                oldest = first.get("created_at") if first else None
            out[name] = (count, oldest)
        return out

    async def count(self, query: dict[str, Any] | None = None) -> int:
        return await self._col.count_documents(query or {})

    async def find(self, query: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        return await self._col.find(query).sort("_id", 1).to_list(length=limit)
