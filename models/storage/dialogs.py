"""The `dialogs` collection (one document per dialog). See SCHEMA.md.

`seq` counts stored messages: each message takes the next value (one `$inc`), which orders the
dialog's history and drives unread counts together with the members' `last_read_seq`. Dialogs
enter and leave as `Dialog` entities (models/dialogs.py); the documents' layout is SCHEMA.md's.
"""
from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from models.dialogs import Dialog, LastMessage
from models.queries import Condition, Sort
from models.storage.errors import duplicates_as_conflict
from models.storage.filters import compile_conditions
from models.storage.scoped import AppScopedStore
from models.storage.ids import ids_in_query as _in_query
from models.storage.ids import oid_or_none as _oid

Doc = dict[str, Any]
BROADCAST = 1  # dialog type read by every user of the app (models.services.access.BROADCAST)
PRIVATE = 3  # a pair's dialog


class DialogStore(AppScopedStore[Dialog]):
    collection = "dialogs"
    _load = staticmethod(Dialog.from_doc)

    async def insert(self, dialog: Dialog) -> str:
        """Stores a new dialog (its id a 24-hex string, or empty for a new one); returns the id."""
        doc = dialog.to_doc()
        doc["_id"] = _oid(dialog.id) if dialog.id else ObjectId()
        with duplicates_as_conflict("dialog already exists"):
            await self._col.insert_one(doc)
        return str(doc["_id"])

    async def find_private(self, app_id: int, private_key: str) -> Dialog | None:
        return self._load_or_none(await self._col.find_one({"app_id": app_id,
                                                            "private_key": private_key}))

    async def find_in(self, app_id: int, dialog_ids: list[str], conditions: tuple[Condition, ...],
                      sort: Sort, skip: int, limit: int,
                      broadcasts_except: list[str] | None = None) -> list[Dialog]:
        """The given dialogs (a user's memberships) matching `conditions`; with
        `broadcasts_except`, also every broadcast dialog of the app but those."""
        return await self._page(_scoped(app_id, dialog_ids, compile_conditions(conditions),
                                        broadcasts_except), list(sort), skip, limit)

    async def count_in(self, app_id: int, dialog_ids: list[str], conditions: tuple[Condition, ...],
                       broadcasts_except: list[str] | None = None) -> int:
        return await self._col.count_documents(_scoped(app_id, dialog_ids,
                                                       compile_conditions(conditions),
                                                       broadcasts_except))

    async def broadcast_ids(self, app_id: int) -> list[str]:
        """Ids of the app's broadcast dialogs (type 1: every user of the app reads them)."""
        return [str(d["_id"]) async for d in self._col.find({"app_id": app_id, "type": BROADCAST},
                                                             {"_id": 1})]

    async def private_among(self, app_id: int, dialog_ids: list[str]) -> list[str]:
        """Which of these dialogs (a user's memberships) are private ones (type 3)."""
        oids = [o for o in (_oid(d) for d in dialog_ids) if o is not None]
        if not oids:
            return []
        return [str(d["_id"]) async for d in self._col.find(
            {"_id": {"$in": oids}, "app_id": app_id, "type": PRIVATE}, {"_id": 1})]

    async def next_seq(self, app_id: int, dialog_id: str, last_message: Doc) -> int:
        """Takes the next message sequence number and records `last_message` (stored fields),
        atomically (seeding data for tests and benchmarks)."""
        seq, _ = await self._take(app_id, dialog_id, last_message, 1)
        return seq

    async def take_seqs(self, app_id: int, dialog_id: str, last: LastMessage, now: Any,
                        count: int) -> tuple[int, bool]:
        """Takes `count` message sequence numbers and records the last message, atomically.
        Returns the highest number taken (the range is `top - count + 1 .. top`) and whether a
        member hid the dialog since the last message (`has_hidden`, cleared here: the caller
        shows the dialog to them again)."""
        return await self._take(app_id, dialog_id, {
            "last_message": last.body, "last_message_id": last.id,
            "last_message_user_id": last.sender_id, "last_message_date_sent": last.date_sent,
            "updated_at": now}, count)

    async def _take(self, app_id: int, dialog_id: str, last_message: Doc,
                    count: int) -> tuple[int, bool]:
        doc = await self._col.find_one_and_update(
            {"_id": _oid(dialog_id), "app_id": app_id},
            {"$inc": {"seq": count}, "$set": {**last_message, "has_hidden": False}},
            projection={"seq": 1, "has_hidden": 1}, return_document=ReturnDocument.BEFORE)
        if doc is None:
            raise LookupError(dialog_id)
        return int(doc.get("seq") or 0) + count, bool(doc.get("has_hidden"))

    async def mark_hidden(self, app_id: int, dialog_id: str) -> None:
        """A member hid the dialog: the next message shows it to them again (see take_seqs)."""
        await self._col.update_one({"_id": _oid(dialog_id), "app_id": app_id},
                                   {"$set": {"has_hidden": True}})

    async def set_fields(self, app_id: int, dialog_id: str, fields: Doc) -> None:
        await self._col.update_one({"_id": _oid(dialog_id), "app_id": app_id}, {"$set": fields})

    async def set_last_message(self, app_id: int, dialog_id: str, last: LastMessage | None) -> None:
        """Records `last` (or none) as the dialog's last message."""
        await self.set_fields(app_id, dialog_id, {
            "last_message": last.body if last else None,
            "last_message_id": last.id if last else None,
            "last_message_user_id": last.sender_id if last else None,
            "last_message_date_sent": last.date_sent if last else None})

    async def set_last_message_body(self, app_id: int, dialog_id: str, body: str) -> None:
        """The last message was edited."""
        await self.set_fields(app_id, dialog_id, {"last_message": body})

    async def _update(self, app_id: int, dialog_id: str, update: Doc) -> Dialog | None:
        return await self.update(app_id, dialog_id, update)

    async def change(self, app_id: int, dialog_id: str, sets: Doc, adds: dict[str, list],
                     pulls: dict[str, list], now: Any) -> Dialog | None:
        """Sets fields and adds ids to list fields in one update, then pulls ids (one field can't
        take both at once); returns the changed dialog (None: it is gone)."""
        update: Doc = {"$set": {**sets, "updated_at": now}}
        if adds:
            update["$addToSet"] = {k: {"$each": v} for k, v in adds.items()}
        doc = await self._update(app_id, dialog_id, update)
        if doc is not None and pulls:
            doc = await self._update(app_id, dialog_id,
                                     {"$pull": {k: {"$in": v} for k, v in pulls.items()}})
        return doc

    async def remove_occupant(self, app_id: int, dialog_id: str, user_id: int, now: Any) -> Dialog | None:
        """The user leaves: no longer an occupant nor an admin."""
        return await self._update(app_id, dialog_id, {
            "$pull": {"occupants_ids": user_id, "admins_ids": user_id}, "$set": {"updated_at": now}})

    async def ban(self, app_id: int, dialog_id: str, user_id: int, now: Any) -> Dialog | None:
        """The user is banned: listed in `banned_ids` and, in the same update, no longer an
        occupant nor an admin; returns the changed dialog (None: it is gone)."""
        return await self._update(app_id, dialog_id, {
            "$addToSet": {"banned_ids": user_id},
            "$pull": {"occupants_ids": user_id, "admins_ids": user_id},
            "$set": {"updated_at": now}})

    async def unban(self, app_id: int, dialog_id: str, user_id: int, now: Any) -> Dialog | None:
        return await self._update(app_id, dialog_id, {"$pull": {"banned_ids": user_id},
                                                      "$set": {"updated_at": now}})

    async def remove_admin(self, app_id: int, dialog_id: str, user_id: int) -> None:
        await self._update(app_id, dialog_id, {"$pull": {"admins_ids": user_id}})

    async def set_occupants_count(self, app_id: int, dialog_id: str, count: int) -> Dialog | None:
        return await self._update(app_id, dialog_id, {"$set": {"occupants_count": count}})

    async def clear_history(self, app_id: int, dialog_id: str, now: Any) -> Dialog | None:
        """The history was deleted for everyone: no last message, no pins."""
        return await self._update(app_id, dialog_id, {"$set": {
            "last_message": None, "last_message_id": None, "last_message_user_id": None,
            "last_message_date_sent": None, "pinned_messages_ids": [], "updated_at": now}})

    async def unpin(self, app_id: int, dialog_id: str, message_ids: list[str]) -> None:
        await self._col.update_one({"_id": _oid(dialog_id), "app_id": app_id},
                                   {"$pull": {"pinned_messages_ids": {"$in": message_ids}}})

    async def delete(self, app_id: int, dialog_id: str) -> bool:
        oid = _oid(dialog_id)
        if oid is None:
            return False
        result = await self._col.delete_one({"_id": oid, "app_id": app_id})
        return result.deleted_count == 1

    # -- the admin API: every dialog of the application ------------------------------------------
    async def page_app(self, app_id: int, conditions: tuple[Condition, ...], sort: Sort, skip: int,
                       limit: int) -> list[Dialog]:
        return await self._page({"app_id": app_id, **_in_query(compile_conditions(conditions))},
                                list(sort), skip, limit)

    async def count_app(self, app_id: int, conditions: tuple[Condition, ...]) -> int:
        return await self._col.count_documents(
            {"app_id": app_id, **_in_query(compile_conditions(conditions))})

    @staticmethod
    def _created(app_id: int, start: Any, end: Any, types: tuple[int, ...]) -> Doc:
        """Dialogs created in [start, end) (either may be None: open), of `types` (none: all)."""
        query: Doc = {"app_id": app_id}
        bounds = {op: value for op, value in (("$gte", start), ("$lt", end)) if value is not None}
        if bounds:
            query["created_at"] = bounds
        if types:
            query["type"] = {"$in": list(types)}
        return query

    async def count_created(self, app_id: int, start: Any, end: Any, types: tuple[int, ...]) -> int:
        return await self._col.count_documents(self._created(app_id, start, end, types))

    async def created_per_day(self, app_id: int, start: Any, end: Any, types: tuple[int, ...],
                              skip: int, limit: int) -> list[tuple[str, int]]:
        """(UTC day `YYYY-MM-DD`, dialogs created that day), days with any, oldest first."""
        if limit <= 0:
            return []
        rows = await self._col.aggregate([
            {"$match": self._created(app_id, start, end, types)},
            {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$created_at"}},
                        "n": {"$sum": 1}}},
            {"$sort": {"_id": 1}}, {"$skip": skip}, {"$limit": limit}]).to_list(length=limit)
        return [(str(row["_id"]), int(row["n"])) for row in rows]


def _scoped(app_id: int, dialog_ids: list[str], query: Doc,
            broadcasts_except: list[str] | None = None) -> Doc:
    oids = [o for o in (_oid(d) for d in dialog_ids) if o is not None]
    scope: Doc = {"app_id": app_id, "_id": {"$in": oids}}
    if broadcasts_except is not None:
        hidden = [o for o in (_oid(d) for d in broadcasts_except) if o is not None]
        scope = {"app_id": app_id, "$or": [{"_id": {"$in": oids}},
                                           {"type": BROADCAST, "_id": {"$nin": hidden}}]}
    query = _in_query(query)
    return {"$and": [scope, query]} if query else scope


