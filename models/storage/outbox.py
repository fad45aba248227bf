"""The `outbox` collection: domain events waiting for the bridge relay and the push worker.

Each event is stored before anyone is told about it, so a consumer that restarts picks up what it
missed. Consumers mark what they processed in `done_by` (one entry per consumer name).

Consumers register their names in `outbox_consumers` (persistent, so every process knows them).
`prune` removes events every registered consumer has handled (after a short grace period) and
any event older than `max_age`, so the collection stays small.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from models.events import Event

TAP_LIMIT = 10_000


class OutboxStore:
    def __init__(self, db) -> None:
        self._col = db["outbox"]
        self._consumers = db["outbox_consumers"]
        self._listeners: list[asyncio.Event] = []
        self._taps: list[asyncio.Queue] = []

    async def publish(self, event: Event) -> None:
        doc = event.model_dump()
        doc["created_at"] = datetime.now(timezone.utc)
        doc["done_by"] = []
        await self._col.insert_one(doc)
        for waiter in self._listeners:
            waiter.set()
        for tap in self._taps:
            if tap.qsize() < TAP_LIMIT:  # a slow consumer falls back to `pending`
                tap.put_nowait(dict(doc))

    def subscribe(self) -> asyncio.Event:
        """An asyncio.Event set whenever something is published in this process."""
        waiter = asyncio.Event()
        self._listeners.append(waiter)
        return waiter

    def tap(self) -> asyncio.Queue:
        """A queue receiving (a copy of) each event stored by this process, right after the
        insert: a consumer's low-latency path. It is a hint, not the record: consumers still mark
        events done, and events published elsewhere (or dropped when the queue is full) are found
        by `pending`."""
        queue: asyncio.Queue = asyncio.Queue()
        self._taps.append(queue)
        return queue

    async def pending(self, consumer: str, limit: int = 100) -> list[dict[str, Any]]:
        cursor = self._col.find({"done_by": {"$ne": consumer}}).sort("_id", 1).limit(limit)
        return await cursor.to_list(length=limit)

    async def mark_done(self, consumer: str, event_id: Any) -> None:
        await self._col.update_one({"_id": event_id}, {"$addToSet": {"done_by": consumer}})

    async def register_consumer(self, consumer: str) -> None:
        await self._consumers.update_one(
            {"_id": consumer}, {"$set": {"seen_at": datetime.now(timezone.utc)}}, upsert=True)

    async def prune(self, done_grace_seconds: float = 60, max_age_seconds: float = 24 * 3600) -> int:
        """Deletes events handled by every registered consumer (older than the grace period) and
        events older than `max_age_seconds` whatever their state. Returns how many went."""
        now = datetime.now(timezone.utc)
        consumers = [d["_id"] async for d in self._consumers.find({})]
        removed = 0
        if consumers:
            result = await self._col.delete_many({
                "done_by": {"$all": consumers},
                "created_at": {"$lt": now - timedelta(seconds=done_grace_seconds)}})
            removed += result.deleted_count
        result = await self._col.delete_many(
            {"created_at": {"$lt": now - timedelta(seconds=max_age_seconds)}})
        return removed + result.deleted_count

    async def count(self, query: dict[str, Any] | None = None) -> int:
        return await self._col.count_documents(query or {})

    async def find(self, query: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        return await self._col.find(query).sort("_id", 1).to_list(length=limit)
