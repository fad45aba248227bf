"""The `users` collection: integer `_id`, unique login / email per application."""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from models.storage.errors import duplicates_as_conflict

Doc = dict[str, Any]


class UserStore:
    def __init__(self, db) -> None:
        self._col = db["users"]

    async def insert(self, doc: Doc) -> None:
        with duplicates_as_conflict("has already been taken"):
            await self._col.insert_one(doc)

    async def get(self, app_id: int, user_id: int) -> Doc | None:
        return await self._col.find_one({"_id": user_id, "app_id": app_id})

    async def find_one(self, app_id: int, **fields: Any) -> Doc | None:
        return await self._col.find_one({"app_id": app_id, **fields})

    async def find(
        self, app_id: int, query: Doc, sort: list[tuple[str, int]], skip: int, limit: int
    ) -> list[Doc]:
        cursor = self._col.find({"app_id": app_id, **query})
        if sort:
            cursor = cursor.sort(sort)
        return await cursor.skip(skip).limit(limit).to_list(length=limit)

    async def count(self, app_id: int, query: Doc) -> int:
        return await self._col.count_documents({"app_id": app_id, **query})

    async def get_many(self, app_id: int, ids: list[int]) -> list[Doc]:
        return await self._col.find({"app_id": app_id, "_id": {"$in": ids}}).to_list(length=None)

    async def update(self, app_id: int, user_id: int, changes: Doc, unset: list[str] = ()) -> Doc | None:
        update: Doc = {}
        if changes:
            update["$set"] = changes
        if unset:
            update["$unset"] = {k: "" for k in unset}
        with duplicates_as_conflict("has already been taken"):
            return await self._col.find_one_and_update(
                {"_id": user_id, "app_id": app_id}, update, return_document=ReturnDocument.AFTER
            )

    async def touch(self, app_id: int, user_id: int, when) -> None:
        await self._col.update_one({"_id": user_id, "app_id": app_id}, {"$set": {"last_request_at": when}})

    async def delete(self, app_id: int, user_id: int) -> bool:
        result = await self._col.delete_one({"_id": user_id, "app_id": app_id})
        return result.deleted_count == 1

    async def search_among(self, app_id: int, user_ids: list[int], text: str, limit: int) -> list[Doc]:
        """Of these users, those whose login or full name contains `text` (case-insensitive)."""
        import re

        pattern = {"$regex": re.escape(text), "$options": "i"}
        return await self.find(app_id, {"_id": {"$in": user_ids},
                                        "$or": [{"login": pattern}, {"full_name": pattern}]},
                               [("_id", 1)], 0, limit)
