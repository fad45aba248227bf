"""The `dialogs` collection (one document per dialog). See SCHEMA.md.

`seq` counts stored messages: each message takes the next value (one `$inc`), which orders the
dialog's history and drives unread counts together with the members' `last_read_seq`.
"""
from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from models.storage.errors import duplicates_as_conflict
from models.storage.scoped import AppScopedStore
from models.storage.ids import id_to_str as _out
from models.storage.ids import ids_in_query as _in_query
from models.storage.ids import oid_or_none as _oid

Doc = dict[str, Any]
BROADCAST = 1  # dialog type read by every user of the app (models.services.access.BROADCAST)


class DialogStore(AppScopedStore):
    collection = "dialogs"

    async def insert(self, doc: Doc) -> str:
        """`doc["_id"]` may be given as a 24-hex string; returns the id as a string."""
        doc = dict(doc)
        doc["_id"] = _oid(doc["_id"]) if "_id" in doc else ObjectId()
        with duplicates_as_conflict("dialog already exists"):
            await self._col.insert_one(doc)
        return str(doc["_id"])

    async def find_private(self, app_id: int, private_key: str) -> Doc | None:
        return _out(await self._col.find_one({"app_id": app_id, "private_key": private_key}))

    async def find_in(self, app_id: int, dialog_ids: list[str], query: Doc,
                      sort: list[tuple[str, int]], skip: int, limit: int,
                      broadcasts_except: list[str] | None = None) -> list[Doc]:
        """Like `find`, restricted to the given dialogs (a user's memberships); with
        `broadcasts_except`, also every broadcast dialog of the app but those."""
        return await self._page(_scoped(app_id, dialog_ids, query, broadcasts_except),
                                sort, skip, limit)

    async def count_in(self, app_id: int, dialog_ids: list[str], query: Doc,
                       broadcasts_except: list[str] | None = None) -> int:
        return await self._col.count_documents(_scoped(app_id, dialog_ids, query, broadcasts_except))

    async def broadcast_ids(self, app_id: int) -> list[str]:
        """Ids of the app's broadcast dialogs (type 1: every user of the app reads them)."""
        return [str(d["_id"]) async for d in self._col.find({"app_id": app_id, "type": BROADCAST},
                                                             {"_id": 1})]

    async def next_seq(self, app_id: int, dialog_id: str, last_message: Doc) -> int:
        """Takes the next message sequence number and records the last message, atomically."""
        seq, _ = await self.take_seqs(app_id, dialog_id, last_message, 1)
        return seq

    async def take_seqs(self, app_id: int, dialog_id: str, last_message: Doc,
                        count: int) -> tuple[int, bool]:
        """Takes `count` message sequence numbers and records the last message, atomically.
        Returns the highest number taken (the range is `top - count + 1 .. top`) and whether a
        member hid the dialog since the last message (`has_hidden`, cleared here: the caller
        shows the dialog to them again)."""
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

    async def delete(self, app_id: int, dialog_id: str) -> bool:
        oid = _oid(dialog_id)
        if oid is None:
            return False
        result = await self._col.delete_one({"_id": oid, "app_id": app_id})
        return result.deleted_count == 1


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


