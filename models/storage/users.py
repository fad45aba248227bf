"""The `users` collection: integer `_id`, unique login / email per application."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable

from pymongo import ReturnDocument

from models.queries import Condition, Sort
from models.storage.errors import duplicates_as_conflict
from models.storage.filters import compile_conditions

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

    async def page(self, app_id: int, conditions: Iterable[Condition], sort: Sort,
                   skip: int, limit: int) -> list[Doc]:
        """One page of the users matching every condition, in `sort` order."""
        cursor = self._col.find({"app_id": app_id, **compile_conditions(conditions)})
        if sort:
            cursor = cursor.sort(list(sort))
        return await cursor.skip(skip).limit(limit).to_list(length=limit)

    async def count_matching(self, app_id: int, conditions: Iterable[Condition]) -> int:
        return await self._col.count_documents({"app_id": app_id, **compile_conditions(conditions)})

    async def ids_matching(self, app_id: int, conditions: Iterable[Condition], limit: int) -> list[int]:
        """Up to `limit` ids of matching users, lowest first."""
        cursor = self._col.find({"app_id": app_id, **compile_conditions(conditions)}, {"_id": 1})
        docs = await cursor.sort([("_id", 1)]).limit(limit).to_list(length=limit)
        return [d["_id"] for d in docs]

    async def get_many(self, app_id: int, ids: list[int]) -> list[Doc]:
        return await self._col.find({"app_id": app_id, "_id": {"$in": ids}}).to_list(length=None)

    async def set_fields(self, app_id: int, user_id: int, fields: Doc) -> Doc | None:
        """Sets the given fields (a `None` removes the field); the user after the change."""
        update: Doc = {}
        sets = {k: v for k, v in fields.items() if v is not None}
        unset = [k for k, v in fields.items() if v is None]
        if sets:
            update["$set"] = sets
        if unset:
            update["$unset"] = {k: "" for k in unset}
        with duplicates_as_conflict("has already been taken"):
            return await self._col.find_one_and_update(
                {"_id": user_id, "app_id": app_id}, update, return_document=ReturnDocument.AFTER
            )

    async def touch(self, app_id: int, user_id: int, when: datetime) -> None:
        await self._col.update_one({"_id": user_id, "app_id": app_id}, {"$set": {"last_request_at": when}})

    async def delete(self, app_id: int, user_id: int) -> bool:
        result = await self._col.delete_one({"_id": user_id, "app_id": app_id})
        return result.deleted_count == 1

    async def search_among(self, app_id: int, user_ids: list[int], text: str, limit: int) -> list[Doc]:
        """Of these users, those whose login or full name contains `text` (case-insensitive)."""
        pattern = {"$regex": re.escape(text), "$options": "i"}
        return await self.find(app_id, {"_id": {"$in": user_ids},
                                        "$or": [{"login": pattern}, {"full_name": pattern}]},
                               [("_id", 1)], 0, limit)
