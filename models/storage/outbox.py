"""The `outbox` collection: domain events waiting for the bridge relay and the push worker.

Each event is stored before anyone is told about it, so a consumer that restarts picks up what it
missed. Consumers mark what they processed in `done_by` (one entry per consumer name).
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from pymongo import ReturnDocument

from models.events import Event


class OutboxStore:
    def __init__(self, db) -> None:
        self._col = db["outbox"]
        self._listeners: list[asyncio.Event] = []

    async def publish(self, event: Event) -> None:
        doc = event.model_dump()
        doc["created_at"] = datetime.now(timezone.utc)
        doc["done_by"] = []
        await self._col.insert_one(doc)
        for waiter in self._listeners:
            waiter.set()

    def subscribe(self) -> asyncio.Event:
        """An asyncio.Event set whenever something is published in this process."""
        waiter = asyncio.Event()
        self._listeners.append(waiter)
        return waiter

    async def pending(self, consumer: str, limit: int = 100) -> list[dict[str, Any]]:
        cursor = self._col.find({"done_by": {"$ne": consumer}}).sort("_id", 1).limit(limit)
        return await cursor.to_list(length=limit)

    async def mark_done(self, consumer: str, event_id: Any) -> None:
        await self._col.find_one_and_update(
            {"_id": event_id}, {"$addToSet": {"done_by": consumer}},
            return_document=ReturnDocument.AFTER,
        )

    async def count(self, query: dict[str, Any] | None = None) -> int:
        return await self._col.count_documents(query or {})

    async def find(self, query: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        return await self._col.find(query).sort("_id", 1).to_list(length=limit)
