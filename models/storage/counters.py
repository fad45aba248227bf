"""Integer id sequences (users, sessions, blobs): one atomic $inc per id."""
from __future__ import annotations

from pymongo import ReturnDocument


class CounterStore:
    def __init__(self, db) -> None:
        self._col = db["counters"]

    async def next(self, name: str, start: int = 0) -> int:
        doc = await self._col.find_one_and_update(
            {"_id": name},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["seq"]) + start
