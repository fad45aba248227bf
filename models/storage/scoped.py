"""Shared reads and writes of a collection keyed by ObjectId and scoped by application
(`dialogs`, `messages`). Ids enter as 24-hex strings; documents leave as the collection's entity
(`_load`: `Message.from_doc`, `Dialog.from_doc`), converted here, once per document."""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from pymongo import ReturnDocument

from models.storage.ids import ids_in_query, oid_or_none

Doc = dict[str, Any]
E = TypeVar("E")


class AppScopedStore(Generic[E]):
    collection: str = ""

    def __init__(self, db) -> None:
        self._col = db[self.collection]

    @staticmethod
    def _load(doc: Doc) -> E:
        """The stored document as the collection's entity (its `_id` an ObjectId or a string)."""
        raise NotImplementedError

    def _load_or_none(self, doc: Doc | None) -> E | None:
        return None if doc is None else self._load(doc)

    async def get(self, app_id: int, doc_id: str) -> E | None:
        oid = oid_or_none(doc_id)
        if oid is None:
            return None
        return self._load_or_none(await self._col.find_one({"_id": oid, "app_id": app_id}))

    async def get_many(self, app_id: int, doc_ids: list[str]) -> list[E]:
        oids = [o for o in (oid_or_none(d) for d in doc_ids) if o is not None]
        load = self._load
        return [load(d) async for d in self._col.find({"_id": {"$in": oids}, "app_id": app_id})]

    async def find(self, app_id: int, query: Doc, sort: list[tuple[str, int]], skip: int,
                   limit: int) -> list[E]:
        return await self._page({"app_id": app_id, **ids_in_query(query)}, sort, skip, limit)

    async def count(self, app_id: int, query: Doc) -> int:
        return await self._col.count_documents({"app_id": app_id, **ids_in_query(query)})

    async def update(self, app_id: int, doc_id: str, update: Doc) -> E | None:
        """Applies a raw update (`$set`, `$addToSet`, `$pull`...) and returns the new entity."""
        oid = oid_or_none(doc_id)
        if oid is None:
            return None
        return self._load_or_none(await self._col.find_one_and_update(
            {"_id": oid, "app_id": app_id}, update, return_document=ReturnDocument.AFTER))

    async def _page(self, query: Doc, sort: list[tuple[str, int]], skip: int, limit: int) -> list[E]:
        if limit <= 0:
            return []
        cursor = self._col.find(query)
        if sort:
            cursor = cursor.sort(sort)
        load = self._load
        return [load(d) for d in await cursor.skip(skip).limit(limit).to_list(length=limit)]
