"""`EmbeddedMessageStore`: history pages in their own order from each dialog's messages ordered by
`(date_sent, seq, _id)` (lookups.py, kept on insert, update and delete) instead of mongomock's
filter-and-sort of the whole dialog: a page walks from its end of the dialog and stops once it has
`skip + limit` matches, so it costs about its own size when most messages match, not the
dialog's size. The same filter decides (compiled, or mongomock's `filter_applies` when the
compiled one cannot), and any other order, or a dialog with a message missing from the index,
goes the generic way, so answers equal the MongoDB store's (tests/storage/test_embedded.py)."""
from __future__ import annotations

from typing import Any

from models.messages import Message
from models.queries import Condition, Sort
from models.storage.embedded import switch
from models.storage.embedded.filters import compile_filter
from models.storage.embedded.lookups import complete_group
from models.storage.embedded.tables import collection_store
from models.storage.ids import ids_in_query
from models.storage.messages import MessageStore

HISTORY_FIELDS = ("date_sent", "seq", "_id")


def _direction(sort: Sort) -> int | None:
    """1 or -1 when `sort` is the history index's order in one direction, else None."""
    if len(sort) != 3 or tuple(name for name, _ in sort) != HISTORY_FIELDS:
        return None
    directions = {direction for _, direction in sort}
    return directions.pop() if len(directions) == 1 and directions <= {1, -1} else None


class EmbeddedMessageStore(MessageStore):
    async def page_history(self, app_id: int, dialog_id: str, viewer: int, after_seq: int,
                           conditions: tuple[Condition, ...], read: bool | None, sort: Sort,
                           skip: int, limit: int) -> list[Message]:
        direction = _direction(sort)
        store = collection_store(self._col)
        group = complete_group(store, dialog_id, "history") \
            if switch.ON and store is not None and direction is not None and limit > 0 else None
        if group is None:
            return await super().page_history(app_id, dialog_id, viewer, after_seq, conditions,
                                               read, sort, skip, limit)
        from mongomock import helpers
        from mongomock.filtering import filter_applies

        query: dict[str, Any] = {"app_id": app_id, **ids_in_query(
            self._history_query(dialog_id, viewer, after_seq, conditions, read))}
        compiled = compile_filter(query)
        store._remove_expired_documents()
        documents, keys = store._documents, group.keys
        indexes = range(len(keys) - 1, -1, -1) if direction == -1 else range(len(keys))
        found: list[dict[str, Any]] = []
        wanted = skip + limit
        for index in indexes:
            doc = documents.get(keys[index])
            if doc is None:
                continue
            result = compiled(doc) if compiled is not None else None
            if (filter_applies(query, doc) if result is None else result):
                found.append(doc)
                if len(found) == wanted:
                    break
        return [Message.from_doc(helpers.make_datetime_timezone_aware_in_document(doc))
                for doc in found[skip:]]
