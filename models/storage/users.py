"""The `users` collection: integer `_id`, unique login / email per application.

`phone_key` is kept here, beside `phone`, on every write that sets the phone: the phone's digits
as address books match them (models/address_book.py: `phone_digits`), indexed per application."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable

from pymongo import ReturnDocument

from models.address_book import phone_digits
from models.queries import Condition, Sort
from models.storage.errors import duplicates_as_conflict
from models.storage.filters import compile_conditions

Doc = dict[str, Any]


class UserStore:
    def __init__(self, db) -> None:
        self._col = db["users"]

    async def insert(self, doc: Doc) -> None:
        doc = _with_phone_key(doc)
        if doc.get("phone_key") is None:
            doc.pop("phone_key", None)
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
        fields = _with_phone_key(fields)
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

    async def find_by_phone_keys(self, app_id: int, keys: list[str], limit: int) -> list[Doc]:
        """Users whose phone's digits are among `keys` (address book matches), lowest id first."""
        if not keys:
            return []
        cursor = self._col.find({"app_id": app_id, "phone_key": {"$in": keys}})
        return await cursor.sort([("_id", 1)]).limit(limit).to_list(length=limit)

    async def backfill_phone_keys(self) -> int:
        """Gives `phone_key` to users stored before it existed; returns how many (start-up)."""
        count = 0
        async for doc in self._col.find({"phone": {"$type": "string"},
                                         "phone_key": {"$exists": False}}, {"phone": 1}):
            key = phone_digits(doc["phone"])
            await self._col.update_one({"_id": doc["_id"]},
                                       {"$set": {"phone_key": key}} if key else
                                       {"$set": {"phone_key": None}})
            count += 1
        return count


def _with_phone_key(fields: Doc) -> Doc:
    if "phone" not in fields:
        return fields
    return {**fields, "phone_key": phone_digits(fields["phone"])}
