"""The message archive (XEP-0313) over the `messages` collection. See SCHEMA.md.

Order: `archive_order`, a server ObjectId given to each message when it is stored
(`MessageStore.insert`), in the order messages are stored; unlike `_id` (the client's own id
when it sends one) it never goes back in time, so "everything after this id" misses nothing.
Index `dialog_archive` (chat_dialog_id, archive_order) serves one dialog's pages and, merged
over several dialogs (`$in` / `$or` per dialog), a user's catch-up across all of their dialogs.
The embedded store answers the same calls from per-dialog ordered lists
(models/storage/embedded/archive.py).
"""
from __future__ import annotations

from typing import Any

from bson import ObjectId

from models.archive import ArchiveScope
from models.messages import Message
from models.storage.ids import oid_or_none as _oid

Doc = dict[str, Any]
ORDER = "archive_order"
_BOTTOM = ObjectId("0" * 24)  # below every stored order: messages without one are not archived


class ArchiveStore:
    collection = "messages"

    def __init__(self, db) -> None:
        self._col = db[self.collection]

    async def anchor(self, app_id: int, message_id: str) -> tuple[str, Any] | None:
        """(dialog id, archive order) of a stored message of this app, or None."""
        oid = _oid(message_id)
        if oid is None:
            return None
        doc = await self._col.find_one({"_id": oid, "app_id": app_id},
                                       {"chat_dialog_id": 1, ORDER: 1})
        if doc is None or doc.get(ORDER) is None:
            return None
        return doc["chat_dialog_id"], doc[ORDER]

    @staticmethod
    def _query(scope: ArchiveScope, after: Any, before: Any, start: int | None,
               end: int | None) -> Doc:
        plain = [d for d, seq in scope.cleared.items() if not seq]
        branches: list[Doc] = [{"chat_dialog_id": d, "seq": {"$gt": seq}}
                               for d, seq in scope.cleared.items() if seq]
        if plain:
            branches.insert(0, {"chat_dialog_id": plain[0] if len(plain) == 1 else {"$in": plain}})
        query: Doc = {"app_id": scope.app_id}
        if len(branches) == 1:
            query.update(branches[0])
        else:
            query["$or"] = branches
        query["deleted_for"] = {"$ne": scope.viewer}
        order: Doc = {"$gt": after if after is not None else _BOTTOM}
        if before is not None:
            order["$lt"] = before
        query[ORDER] = order
        if start is not None or end is not None:
            sent: Doc = {}
            if start is not None:
                sent["$gte"] = start
            if end is not None:
                sent["$lte"] = end
            query["date_sent"] = sent
        return query

    async def page(self, scope: ArchiveScope, after: Any, before: Any, start: int | None,
                   end: int | None, limit: int, newest_first: bool) -> list[Message]:
        """Up to `limit` messages of the scope's dialogs strictly between the archive orders
        `after` and `before` (None: unbounded), not deleted for the viewer, after each dialog's
        cleared position, `date_sent` within [start, end]; in archive order (`newest_first`:
        from the newest down)."""
        if not scope.cleared or limit <= 0:
            return []
        cursor = self._col.find(self._query(scope, after, before, start, end))
        cursor = cursor.sort([(ORDER, -1 if newest_first else 1)]).limit(limit)
        return [Message.from_doc(d) for d in await cursor.to_list(length=limit)]
