"""The `messages` collection. See SCHEMA.md.

Order key: (chat_dialog_id, seq) for a dialog's history, with `_id` as the tie-breaker; `date_sent`
can be set by clients and is never the only order key. Inserting with the client's id as `_id`
makes sends idempotent (a duplicate returns the stored message). Each new message gets its
`archive_order` here, in the order messages are stored (models/storage/archive.py). Messages enter
and leave as `Message` entities (models/messages.py); the documents' layout is SCHEMA.md's.
"""
from __future__ import annotations

import re
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from models.messages import Message
from models.queries import Condition, Sort
from models.storage.filters import compile_conditions
from models.storage.scoped import AppScopedStore
from models.storage.ids import ids_in_query as _in_query
from models.storage.ids import oid_or_none as _oid

Doc = dict[str, Any]


class MessageStore(AppScopedStore[Message]):
    collection = "messages"
    _load = staticmethod(Message.from_doc)

    async def insert(self, message: Message) -> tuple[Message, bool]:
        """Inserts; returns (stored message, created). A duplicate id returns the existing one."""
        doc = message.to_doc()
        doc["_id"] = _oid(message.id) if message.id else ObjectId()
        doc["archive_order"] = ObjectId()
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._col.find_one({"_id": doc["_id"]})
            return Message.from_doc(existing), False
        return (message if message.id else Message.from_doc(doc)), True

    async def insert_many(self, messages: list[Message]) -> list[tuple[Message, bool]]:
        """Inserts in one write; returns (stored message, created) per message, in order. An id
        already stored (a repeat, or a concurrent send) returns the existing message."""
        if len(messages) == 1:
            return [await self.insert(messages[0])]
        prepared = []
        for message in messages:
            doc = message.to_doc()
            doc["_id"] = _oid(message.id) if message.id else ObjectId()
            doc["archive_order"] = ObjectId()  # in list order: the order they are stored in
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
        for index, (message, doc) in enumerate(zip(messages, prepared)):
            if index in duplicates:
                out.append((Message.from_doc(existing[doc["_id"]]), False))
            else:
                out.append((message if message.id else Message.from_doc(doc), True))
        return out

    async def find_any_app(self, message_ids: list[str]) -> dict[str, Message]:
        """Stored messages with these ids in any application (ids are global), by id."""
        oids = [o for o in (_oid(m) for m in message_ids) if o is not None]
        if not oids:
            return {}
        if len(oids) == 1:  # a single send: a lookup, not a query
            doc = await self._col.find_one({"_id": oids[0]})
            return {str(doc["_id"]): Message.from_doc(doc)} if doc is not None else {}
        return {str(d["_id"]): Message.from_doc(d) async for d in self._col.find({"_id": {"$in": oids}})}

    async def exists(self, message_id: str) -> bool:
        oid = _oid(message_id)
        return oid is not None and await self._col.count_documents({"_id": oid}, limit=1) > 0

    async def _update_many(self, app_id: int, query: Doc, update: Doc) -> int:
        result = await self._col.update_many({"app_id": app_id, **_in_query(query)}, update)
        return result.modified_count

    # -- history -------------------------------------------------------------------------------
    @staticmethod
    def _history_query(dialog_id: str, viewer: int, after_seq: int,
                       conditions: tuple[Condition, ...], read: bool | None) -> Doc:
        query = compile_conditions(conditions)
        if read is not None:
            query["read_ids"] = viewer if read else {"$ne": viewer}
        query["chat_dialog_id"] = dialog_id
        query["deleted_for"] = {"$ne": viewer}
        if after_seq:
            query["seq"] = {"$gt": after_seq}
        return query

    async def page_history(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                           conditions: tuple[Condition, ...], read: bool | None, sort: Sort,
                           skip: int, limit: int) -> list[Message]:
        """A page of the messages of one dialog `viewer` sees: not deleted for them, after their
        cleared position (`after_seq`), matching `conditions` (and `read` by them, if given)."""
        query = self._history_query(dialog_id, viewer, after_seq, conditions, read)
        return await self._page({"app_id": app_id, **_in_query(query)}, list(sort), skip, limit)

    async def count_history(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                            conditions: tuple[Condition, ...], read: bool | None) -> int:
        query = self._history_query(dialog_id, viewer, after_seq, conditions, read)
        return await self._col.count_documents({"app_id": app_id, **_in_query(query)})

    async def search(self, app_id: int, positions: dict[str, int], text: str, viewer: int,
                     date_sent: tuple[int | None, int | None], limit: int) -> list[Message]:
        """Newest first: messages whose body contains `text` (case-insensitive) in the given
        dialogs, each after its cleared position (`positions`: dialog id -> seq), not deleted for
        `viewer`, `date_sent` within (earliest, latest) when given."""
        visible = [{"chat_dialog_id": d, "seq": {"$gt": seq}} for d, seq in positions.items()]
        query: Doc = {"$or": visible, "message": {"$regex": re.escape(text), "$options": "i"},
                      "deleted_for": {"$ne": viewer}}
        earliest, latest = date_sent
        bounds: Doc = {}
        if latest is not None:
            bounds["$lte"] = latest
        if earliest is not None:
            bounds["$gte"] = earliest
        if bounds:
            query["date_sent"] = bounds
        return await self._page({"app_id": app_id, **query},
                                [("date_sent", -1), ("seq", -1), ("_id", -1)], 0, limit)

    # -- read and delivered marks ----------------------------------------------------------------
    @staticmethod
    def _read_update(viewer: int, now: Any, count_view: bool) -> Doc:
        update: Doc = {"$addToSet": {"read_ids": viewer, "delivered_ids": viewer},
                       "$set": {"updated_at": now}}
        if count_view:
            update["$inc"] = {"views_count": 1}
        return update

    async def mark_read(self, app_id: int, message_ids: list[str], viewer: int, now: Any,
                        count_view: bool) -> None:
        """`viewer` has read these messages (also delivered; `count_view`: one more view)."""
        await self._update_many(app_id, {"_id": {"$in": message_ids}, "read_ids": {"$ne": viewer}},
                                self._read_update(viewer, now, count_view))

    @classmethod
    def _unread_range(cls, dialog_id: str, viewer: int, after_seq: int, upto_seq: int) -> Doc:
        query = cls.unread_query(dialog_id, viewer, after_seq)
        query["seq"] = {"$gt": after_seq, "$lte": upto_seq}
        return query

    async def unread_in_range(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                              upto_seq: int, limit: int) -> list[Message]:
        """The first `limit` messages of the dialog in (after_seq, upto_seq] `viewer` has not read."""
        return await self._page({"app_id": app_id, **self._unread_range(dialog_id, viewer, after_seq,
                                                                        upto_seq)},
                                [("seq", 1)], 0, limit)

    async def mark_range_read(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                              upto_seq: int, now: Any, count_view: bool) -> None:
        await self._update_many(app_id, self._unread_range(dialog_id, viewer, after_seq, upto_seq),
                                self._read_update(viewer, now, count_view))

    async def mark_delivered(self, app_id: int, message_ids: list[str], viewer: int, now: Any) -> None:
        await self._update_many(app_id, {"_id": {"$in": message_ids},
                                         "delivered_ids": {"$ne": viewer}},
                                {"$addToSet": {"delivered_ids": viewer}, "$set": {"updated_at": now}})

    @staticmethod
    def _undelivered_query(dialog_id: str, viewer: int, after_seq: int) -> Doc:
        return {"chat_dialog_id": dialog_id, "seq": {"$gt": after_seq},
                "sender_id": {"$ne": viewer}, "delivered_ids": {"$ne": viewer},
                "deleted_for": {"$ne": viewer}}

    async def undelivered(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                          limit: int) -> list[Message]:
        """The first `limit` messages of others after `after_seq` not yet delivered to `viewer`."""
        return await self._page({"app_id": app_id,
                                 **self._undelivered_query(dialog_id, viewer, after_seq)},
                                [("seq", 1)], 0, limit)

    async def mark_all_delivered(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                                 now: Any) -> None:
        await self._update_many(app_id, self._undelivered_query(dialog_id, viewer, after_seq),
                                {"$addToSet": {"delivered_ids": viewer}, "$set": {"updated_at": now}})

    # -- edits and deletes -----------------------------------------------------------------------
    async def set_body(self, app_id: int, message_id: str, body: str, now: Any) -> Message | None:
        """The author's edit: the new body, `edited_at`; returns the edited message."""
        oid = _oid(message_id)
        if oid is None:
            return None
        return self._load_or_none(await self._col.find_one_and_update(
            {"_id": oid, "app_id": app_id},
            {"$set": {"message": body, "updated_at": now, "edited_at": now}},
            return_document=ReturnDocument.AFTER))

    async def set_content(self, app_id: int, message: Message, now: Any) -> Message | None:
        """The author's edit beyond the body: `message`'s body, attachments and custom
        parameters as they are now, `edited_at`; returns the edited message (None: gone)."""
        oid = _oid(message.id)
        if oid is None:
            return None
        return self._load_or_none(await self._col.find_one_and_update(
            {"_id": oid, "app_id": app_id},
            {"$set": {"message": message.body, "attachments": list(message.attachments),
                      "custom": dict(message.custom), "updated_at": now, "edited_at": now}},
            return_document=ReturnDocument.AFTER))

    async def hide_for(self, app_id: int, message_ids: list[str], user_id: int) -> None:
        """"Delete for me": the messages stay, `user_id` no longer sees them."""
        await self._update_many(app_id, {"_id": {"$in": message_ids}},
                                {"$addToSet": {"deleted_for": user_id}})

    async def delete_in_dialog(self, app_id: int, dialog_id: str, message_ids: list[str]) -> int:
        """Deletes for everyone (only messages of that dialog)."""
        result = await self._col.delete_many({"app_id": app_id, **_in_query(
            {"_id": {"$in": message_ids}, "chat_dialog_id": dialog_id})})
        return result.deleted_count

    @staticmethod
    def unread_query(dialog_id: str, user_id: int, after_seq: int) -> Doc:
        """Messages of the dialog this user has not read (see SCHEMA.md, dialog_members)."""
        return {"chat_dialog_id": dialog_id, "seq": {"$gt": after_seq},
                "sender_id": {"$ne": user_id}, "read_ids": {"$ne": user_id},
                "deleted_for": {"$ne": user_id}}

    async def count_unread(self, dialog_id: str, user_id: int, after_seq: int) -> int:
        return await self._col.count_documents(self.unread_query(dialog_id, user_id, after_seq))

    async def last_visible(self, dialog_id: str, user_id: int, after_seq: int) -> Message | None:
        """The newest message of the dialog this user still sees (for last_message after deletes)."""
        cursor = self._col.find({"chat_dialog_id": dialog_id, "seq": {"$gt": after_seq},
                                 "deleted_for": {"$ne": user_id}}).sort("seq", -1).limit(1)
        docs = await cursor.to_list(length=1)
        return Message.from_doc(docs[0]) if docs else None

    async def first_unread_seq(self, dialog_id: str, user_id: int, after_seq: int) -> int | None:
        """The seq of the oldest message this user has not read, if any (read-position compaction)."""
        cursor = self._col.find(self.unread_query(dialog_id, user_id, after_seq),
                                projection={"seq": 1}).sort("seq", 1).limit(1)
        docs = await cursor.to_list(length=1)
        return int(docs[0]["seq"]) if docs else None

    async def react(self, app_id: int, message_id: str, user_id: int, add: str | None,
                    remove: list[str]) -> Message | None:
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
        return Message.from_doc(doc)

    async def delete_dialog(self, dialog_id: str) -> int:
        result = await self._col.delete_many({"chat_dialog_id": dialog_id})
        return result.deleted_count

    # -- the admin API: every message of the application -----------------------------------------
    async def page_app(self, app_id: int, conditions: tuple[Condition, ...], sort: Sort, skip: int,
                       limit: int) -> list[Message]:
        return await self._page({"app_id": app_id, **_in_query(compile_conditions(conditions))},
                                list(sort), skip, limit)

    async def count_app(self, app_id: int, conditions: tuple[Condition, ...]) -> int:
        return await self._col.count_documents(
            {"app_id": app_id, **_in_query(compile_conditions(conditions))})

    @staticmethod
    def _sent(app_id: int, start: int | None, end: int | None) -> Doc:
        """Stored messages with `date_sent` in [start, end) (either may be None: open)."""
        query: Doc = {"app_id": app_id}
        bounds = {op: value for op, value in (("$gte", start), ("$lt", end)) if value is not None}
        if bounds:
            query["date_sent"] = bounds
        return query

    async def count_sent(self, app_id: int, start: int | None, end: int | None) -> int:
        return await self._col.count_documents(self._sent(app_id, start, end))

    async def sent_per_day(self, app_id: int, start: int | None, end: int | None, skip: int,
                           limit: int) -> list[tuple[int, int]]:
        """(start of the UTC day in Unix seconds, messages sent that day), days with any, oldest
        first."""
        if limit <= 0:
            return []
        rows = await self._col.aggregate([
            {"$match": self._sent(app_id, start, end)},
            {"$group": {"_id": {"$subtract": ["$date_sent", {"$mod": ["$date_sent", 86400]}]},
                        "n": {"$sum": 1}}},
            {"$sort": {"_id": 1}}, {"$skip": skip}, {"$limit": limit}]).to_list(length=limit)
        return [(int(row["_id"]), int(row["n"])) for row in rows]
