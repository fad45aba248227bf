"""The `outbox` collection: domain events waiting for the bridge relay and the push worker.

Each event is stored before anyone is told about it, so a consumer that restarts picks up what it
missed. Consumers mark what they processed in `done_by` (one entry per consumer name).

Consumers register their names in `outbox_consumers` (persistent, so every process knows them).
A consumer in the publishing process reads from a `Tap` (a copy of each event right after its
insert) and queries `pending` only when it must (models/services/outbox.py: `OutboxReader`).
`prune` removes events every registered consumer has handled (after a short grace period) and
any event older than `max_age`, so the collection stays small. With the embedded store (`local`)
this process sees every publish and every mark, so it keeps a ledger of them and prunes by id,
without scanning the collection (a scan of the tens of thousands of events a busy minute leaves
took a quarter of a second on mongomock, stalling every request); the age limit is then checked
by a scan only every `LOCAL_FULL_PRUNE_EVERY` passes.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

from models.events import Event

TAP_LIMIT = 10_000
LOCAL_FULL_PRUNE_EVERY = 20  # with maintenance every 30 s: the age scan every 10 minutes


class Ledger:
    """Local mode: the events this process stored, in order, and who marked each one done."""

    def __init__(self) -> None:
        self.order: deque[tuple[Any, datetime]] = deque()
        self.done: dict[Any, set[str]] = {}

    def stored(self, event_id: Any, created_at: datetime) -> None:
        self.order.append((event_id, created_at))
        self.done[event_id] = set()

    def marked(self, consumer: str, event_ids: list[Any]) -> None:
        for event_id in event_ids:
            marks = self.done.get(event_id)
            if marks is not None:  # unknown ids (already pruned) are not remembered
                marks.add(consumer)

    def ready(self, consumers: list[str], before: datetime) -> list[Any]:
        """Ids of events older than `before` that every consumer marked; they leave the ledger.
        Others stay, in order, for a later pass."""
        if not consumers:
            return []
        ready, waiting = [], []
        while self.order and self.order[0][1] < before:
            entry = self.order.popleft()
            if all(c in self.done.get(entry[0], ()) for c in consumers):
                ready.append(entry[0])
                self.done.pop(entry[0], None)
            else:
                waiting.append(entry)
        self.order.extendleft(reversed(waiting))
        return ready

    def forget_before(self, before: datetime) -> None:
        """After the age limit removed every event older than `before`."""
        self.order = deque(e for e in self.order if e[1] >= before)
        self.done = {event_id: self.done[event_id] for event_id, _ in self.order if event_id in self.done}


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
    def __init__(self, db, local: bool = False) -> None:
        """`local`: only this process writes to this database (the embedded store), so a tap sees
        every event and `pending` is needed only after a restart or an overflow."""
        self._col = db["outbox"]
        self._consumers = db["outbox_consumers"]
        self._listeners: list[asyncio.Event] = []
        self._taps: list[Tap] = []
        self.local = local
        self._ledger = Ledger() if local else None
        self._prunes = 0

    async def publish(self, event: Event) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: list[Event]) -> None:
        """Stores the events (one write), then tells this process's listeners and taps."""
        if not events:
            return
        now = datetime.now(timezone.utc)
        docs = []
        for event in events:
            doc = event.model_dump()
            doc["created_at"] = now
            doc["done_by"] = []
            docs.append(doc)
        if len(docs) == 1:
            await self._col.insert_one(docs[0])
        else:
            await self._col.insert_many(docs)
        if self._ledger is not None:
            for doc in docs:
                self._ledger.stored(doc["_id"], now)
        for waiter in self._listeners:
            waiter.set()
        for tap in self._taps:
            for doc in docs:
                tap.offer(dict(doc))

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

    async def pending(self, consumer: str, limit: int = 100) -> list[dict[str, Any]]:
        cursor = self._col.find({"done_by": {"$ne": consumer}}).sort("_id", 1).limit(limit)
        return await cursor.to_list(length=limit)

    async def mark_done(self, consumer: str, event_id: Any) -> None:
        await self._col.update_one({"_id": event_id}, {"$addToSet": {"done_by": consumer}})
        if self._ledger is not None:
            self._ledger.marked(consumer, [event_id])

    async def mark_done_many(self, consumer: str, event_ids: list[Any]) -> None:
        if len(event_ids) == 1:
            await self.mark_done(consumer, event_ids[0])
        elif event_ids:
            await self._col.update_many({"_id": {"$in": list(event_ids)}},
                                        {"$addToSet": {"done_by": consumer}})
            if self._ledger is not None:
                self._ledger.marked(consumer, list(event_ids))

    async def register_consumer(self, consumer: str) -> None:
        await self._consumers.update_one(
            {"_id": consumer}, {"$set": {"seen_at": datetime.now(timezone.utc)}}, upsert=True)

    async def prune(self, done_grace_seconds: float = 60, max_age_seconds: float = 24 * 3600,
                    chunk: int = 500) -> int:
        """Deletes events handled by every registered consumer (older than the grace period) and
        events older than `max_age_seconds` whatever their state. Returns how many went. Works in
        chunks of `chunk` events, yielding to the event loop between them (a long delete would
        stall every request of the embedded store's process)."""
        now = datetime.now(timezone.utc)
        consumers = [d["_id"] async for d in self._consumers.find({})]
        done_before = now - timedelta(seconds=done_grace_seconds)
        too_old = {"created_at": {"$lt": now - timedelta(seconds=max_age_seconds)}}
        removed = 0
        if self._ledger is not None:
            ready = self._ledger.ready(consumers, done_before)
            for start in range(0, len(ready), chunk):
                result = await self._col.delete_many({"_id": {"$in": ready[start:start + chunk]}})
                removed += result.deleted_count
                await asyncio.sleep(0)
            self._prunes += 1
            if self._prunes % LOCAL_FULL_PRUNE_EVERY:
                return removed
            removed += await self._delete_matching(too_old, chunk)
            self._ledger.forget_before(now - timedelta(seconds=max_age_seconds))
            return removed
        if consumers:
            removed += await self._delete_matching(
                {"done_by": {"$all": consumers}, "created_at": {"$lt": done_before}}, chunk)
        return removed + await self._delete_matching(too_old, chunk)

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
