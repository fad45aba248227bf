"""The `push_events` collection: a record of each `POST /events` (who sent what to how many)."""
from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


class PushEventStore:
    def __init__(self, db) -> None:
        self._col = db["push_events"]

    async def insert(self, doc: Doc) -> None:
        await self._col.insert_one(doc)

    async def set_fields(self, app_id: int, event_id: int, fields: Doc) -> None:
        await self._col.update_one({"_id": event_id, "app_id": app_id}, {"$set": fields})

    async def get(self, app_id: int, event_id: int) -> Doc | None:
        return await self._col.find_one({"_id": event_id, "app_id": app_id})
