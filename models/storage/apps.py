"""Applications (tenants): id, auth key, auth secret and the sha256 of the admin API key."""
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

    async def find_by_admin_key_hash(self, key_hash: str) -> dict[str, Any] | None:
        return await self._col.find_one({"admin_key_hash": key_hash})

    async def set_admin_key_hash(self, app_id: int, key_hash: str, if_missing: bool = False) -> bool:
        """Stores the admin key's hash (replacing the old one, or with `if_missing` only when
        the app has none: concurrent first starts agree on one key); True if it was stored."""
        query: dict[str, Any] = {"_id": app_id}
        if if_missing:
            query["admin_key_hash"] = None  # missing or null
        result = await self._col.update_one(query, {"$set": {"admin_key_hash": key_hash}})
        return result.modified_count == 1

    async def list_all(self) -> list[dict[str, Any]]:
        """Every application, by id (operators have few; `chatbridge apps list`)."""
        return await self._col.find({}).sort("_id", 1).to_list(None)

    async def max_id(self) -> int:
        found = await self._col.find({}).sort("_id", -1).limit(1).to_list(1)
        return int(found[0]["_id"]) if found else 0

    async def set_auth_keys(self, app_id: int, auth_key: str, auth_secret: str) -> bool:
        result = await self._col.update_one(
            {"_id": app_id}, {"$set": {"auth_key": auth_key, "auth_secret": auth_secret}})
        return result.matched_count == 1
