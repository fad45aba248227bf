"""Applications (tenants): id, auth key, auth secret."""
from __future__ import annotations

from typing import Any


class AppStore:
    def __init__(self, db) -> None:
        self._col = db["apps"]

    async def get(self, app_id: int) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": app_id})

    async def ensure(self, doc: dict[str, Any]) -> bool:
        """Inserts the app if missing; True if it was created."""
        result = await self._col.update_one(
            {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True
        )
        return result.upserted_id is not None

    async def find_by_auth_key(self, auth_key: str) -> dict[str, Any] | None:
        return await self._col.find_one({"auth_key": auth_key})
