"""The `messages` collection. See SCHEMA.md.

Order key: (chat_dialog_id, seq) for a dialog's history, with `_id` as the tie-breaker; `date_sent`
can be set by clients and is never the only order key. Inserting with the client's id as `_id`
makes sends idempotent (a duplicate returns the stored message).
"""
from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from models.storage.scoped import AppScopedStore
from models.storage.ids import id_to_str as _out
from models.storage.ids import ids_in_query as _in_query
from models.storage.ids import oid_or_none as _oid

Doc = dict[str, Any]


class MessageStore(AppScopedStore):
    collection = "messages"

    async def insert(self, doc: Doc) -> tuple[Doc, bool]:
        """Inserts; returns (stored document, created). A duplicate id returns the existing one."""
        doc = dict(doc)
        doc["_id"] = _oid(doc["_id"]) if doc.get("_id") else ObjectId()
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._col.find_one({"_id": doc["_id"]})
            return _out(existing), False
        return _out(doc), True

    async def insert_many(self, docs: list[Doc]) -> list[tuple[Doc, bool]]:
        """Inserts in one write; returns (stored document, created) per document, in order. An id
        already stored (a repeat, or a concurrent send) returns the existing document."""
        if len(docs) == 1:
            return [await self.insert(docs[0])]
        prepared = []
        for doc in docs:
            doc = dict(doc)
            doc["_id"] = _oid(doc["_id"]) if doc.get("_id") else ObjectId()
            prepared.append(doc)
        duplicates: set[int] = set()
        try:
            await self._col.insert_many(prepared, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            duplicates = {e["index"] for e in errors}
        existing: dict[Any, Doc] = {}
        if duplicates:
            ids = [prepared[i]["_id"] for i in duplicates]
            existing = {d["_id"]: d async for d in self._col.find({"_id": {"$in": ids}})}
        out = []
        for index, doc in enumerate(prepared):
            if index in duplicates:
                out.append((_out(existing[doc["_id"]]), False))
            else:
                out.append((_out(doc), True))
        return out

    async def find_any_app(self, message_ids: list[str]) -> dict[str, Doc]:
        """Stored messages with these ids in any application (ids are global), by id."""
        oids = [o for o in (_oid(m) for m in message_ids) if o is not None]
        if not oids:
            return {}
        if len(oids) == 1:  # a single send: a lookup, not a query
            doc = await self._col.find_one({"_id": oids[0]})
            return {str(doc["_id"]): _out(doc)} if doc is not None else {}
        return {str(d["_id"]): _out(d) async for d in self._col.find({"_id": {"$in": oids}})}

    async def exists(self, message_id: str) -> bool:
        oid = _oid(message_id)
        return oid is not None and await self._col.count_documents({"_id": oid}, limit=1) > 0

    async def update_many(self, app_id: int, query: Doc, update: Doc) -> int:
        result = await self._col.update_many({"app_id": app_id, **_in_query(query)}, update)
        return result.modified_count

    async def delete_many(self, app_id: int, query: Doc) -> int:
        result = await self._col.delete_many({"app_id": app_id, **_in_query(query)})
        return result.deleted_count

    @staticmethod
    def unread_query(dialog_id: str, user_id: int, after_seq: int) -> Doc:
        """Messages of the dialog this user has not read (see SCHEMA.md, dialog_members)."""
        return {"chat_dialog_id": dialog_id, "seq": {"$gt": after_seq},
                "sender_id": {"$ne": user_id}, "read_ids": {"$ne": user_id},
                "deleted_for": {"$ne": user_id}}

    async def count_unread(self, dialog_id: str, user_id: int, after_seq: int) -> int:
        return await self._col.count_documents(self.unread_query(dialog_id, user_id, after_seq))

    async def last_visible(self, dialog_id: str, user_id: int, after_seq: int) -> Doc | None:
        """The newest message of the dialog this user still sees (for last_message after deletes)."""
        cursor = self._col.find({"chat_dialog_id": dialog_id, "seq": {"$gt": after_seq},
                                 "deleted_for": {"$ne": user_id}}).sort("seq", -1).limit(1)
        docs = await cursor.to_list(length=1)
        return _out(docs[0]) if docs else None

    async def first_unread_seq(self, dialog_id: str, user_id: int, after_seq: int) -> int | None:
        """The seq of the oldest message this user has not read, if any (read-position compaction)."""
        cursor = self._col.find(self.unread_query(dialog_id, user_id, after_seq),
                                projection={"seq": 1}).sort("seq", 1).limit(1)
        docs = await cursor.to_list(length=1)
        return int(docs[0]["seq"]) if docs else None

    async def react(self, app_id: int, message_id: str, user_id: int, add: str | None,
                    remove: list[str]) -> Doc | None:
        """Adds `user_id` under `reactions.{add}` and pulls it from each `reactions.{remove}`, then
        drops reaction keys left empty. Emoji keys are validated by the service (no `.`/`$`)."""
        oid = _oid(message_id)
        if oid is None:
            return None
        update: Doc = {}
        pulls = {f"reactions.{emoji}": user_id for emoji in remove if emoji != add}
        if pulls:
            update["$pull"] = pulls
        if add is not None:
            update["$addToSet"] = {f"reactions.{add}": user_id}
        if not update:
            return await self.get(app_id, message_id)
        doc = await self._col.find_one_and_update({"_id": oid, "app_id": app_id}, update,
                                                  return_document=ReturnDocument.AFTER)
        if doc is None:
            return None
        for emoji, users in list((doc.get("reactions") or {}).items()):
            if not users:  # only if still empty: another user may have just reacted with it
                key = f"reactions.{emoji}"
                await self._col.update_one({"_id": oid, key: {"$size": 0}}, {"$unset": {key: ""}})
                doc["reactions"].pop(emoji, None)
        return _out(doc)

    async def delete_dialog(self, dialog_id: str) -> int:
        result = await self._col.delete_many({"chat_dialog_id": dialog_id})
        return result.deleted_count
