"""Shared reads and writes of a collection keyed by ObjectId and scoped by application
(`dialogs`, `messages`). Ids enter and leave as 24-hex strings."""
from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from models.storage.ids import id_to_str, ids_in_query, oid_or_none

Doc = dict[str, Any]


class AppScopedStore:
    collection: str = ""

    def __init__(self, db) -> None:
        self._col = db[self.collection]

    async def get(self, app_id: int, doc_id: str) -> Doc | None:
        oid = oid_or_none(doc_id)
        if oid is None:
            return None
        return id_to_str(await self._col.find_one({"_id": oid, "app_id": app_id}))

    async def get_many(self, app_id: int, doc_ids: list[str]) -> list[Doc]:
        oids = [o for o in (oid_or_none(d) for d in doc_ids) if o is not None]
        return [id_to_str(d) async for d in self._col.find({"_id": {"$in": oids}, "app_id": app_id})]

    async def find(self, app_id: int, query: Doc, sort: list[tuple[str, int]], skip: int,
                   limit: int) -> list[Doc]:
        return await self._page({"app_id": app_id, **ids_in_query(query)}, sort, skip, limit)

    async def count(self, app_id: int, query: Doc) -> int:
        return await self._col.count_documents({"app_id": app_id, **ids_in_query(query)})

    async def update(self, app_id: int, doc_id: str, update: Doc) -> Doc | None:
        """Applies a raw update (`$set`, `$addToSet`, `$pull`...) and returns the new document."""
        oid = oid_or_none(doc_id)
        if oid is None:
            return None
        return id_to_str(await self._col.find_one_and_update(
            {"_id": oid, "app_id": app_id}, update, return_document=ReturnDocument.AFTER))

    async def _page(self, query: Doc, sort: list[tuple[str, int]], skip: int, limit: int) -> list[Doc]:
        if limit <= 0:
            return []
        cursor = self._col.find(query)
        if sort:
            cursor = cursor.sort(sort)
        return [id_to_str(d) for d in await cursor.skip(skip).limit(limit).to_list(length=limit)]
