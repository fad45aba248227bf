"""The `sessions` collection. `_id` is sha256(token): the token itself is never stored.

`expires_at` carries a TTL index (MongoDB removes expired sessions); reads also check it,
because TTL removal runs about once a minute.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

Doc = dict[str, Any]


class SessionStore:
    def __init__(self, db) -> None:
        self._col = db["sessions"]

    async def insert(self, doc: Doc) -> None:
        await self._col.insert_one(doc)

    async def get(self, token_hash: str) -> Doc | None:
        return await self._col.find_one({"_id": token_hash})

    async def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        await self._col.update_one(
            {"_id": token_hash}, {"$set": {"updated_at": now, "expires_at": expires_at}}
        )

    async def set_user(self, token_hash: str, user_id: int, now: datetime) -> None:
        await self._col.update_one(
            {"_id": token_hash}, {"$set": {"user_id": user_id, "updated_at": now}}
        )

    async def delete(self, token_hash: str) -> None:
        await self._col.delete_one({"_id": token_hash})

    async def delete_for_user(self, app_id: int, user_id: int) -> int:
        result = await self._col.delete_many({"app_id": app_id, "user_id": user_id})
        return result.deleted_count
