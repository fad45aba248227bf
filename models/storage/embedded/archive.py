"""`EmbeddedArchiveStore`: the archive's pages (models/storage/archive.py) from each dialog's
messages ordered by `archive_order` (lookups.py: `OrderedGroup`, kept on insert and delete)
instead of mongomock's scan of the whole collection. Each dialog's range is found by bisection
and the dialogs are merged lazily, so a page costs about its own size, not the archive's.
The same filter is applied (compiled, or mongomock's `filter_applies` when the compiled one
cannot decide), so answers equal the MongoDB store's (tests/services/test_archive.py)."""
from __future__ import annotations

import heapq
from itertools import islice
from typing import Any, Iterator

from models.archive import ArchiveScope
from models.messages import Message
from models.storage.archive import ArchiveStore
from models.storage.embedded import switch
from models.storage.embedded.filters import compile_filter
from models.storage.embedded.lookups import ordered_group
from models.storage.embedded.tables import collection_store

Doc = dict[str, Any]


class EmbeddedArchiveStore(ArchiveStore):
    async def page(self, scope: ArchiveScope, after: Any, before: Any, start: int | None,
                   end: int | None, limit: int, newest_first: bool) -> list[Message]:
        store = collection_store(self._col)
        if not switch.ON or store is None or not scope.cleared or limit <= 0:
            return await super().page(scope, after, before, start, end, limit, newest_first)
        from mongomock import helpers
        from mongomock.filtering import filter_applies

        rest: Doc = {"app_id": scope.app_id, "deleted_for": {"$ne": scope.viewer}}
        if start is not None or end is not None:
            rest["date_sent"] = {k: v for k, v in (("$gte", start), ("$lte", end)) if v is not None}
        compiled = compile_filter(rest)
        store._remove_expired_documents()
        documents = store._documents

        def matches(doc: Doc, cleared: int) -> bool:
            if cleared and not (type(doc.get("seq")) is int and doc["seq"] > cleared):
                return False
            result = compiled(doc) if compiled is not None else None
            return filter_applies(rest, doc) if result is None else result

        def walk(dialog_id: str, cleared: int) -> Iterator[tuple[Any, Doc]]:
            group = ordered_group(store, dialog_id)
            if group is None:
                return
            lo, hi = group.between(after, before)
            indexes = range(hi - 1, lo - 1, -1) if newest_first else range(lo, hi)
            orders, keys = group.orders, group.keys
            for index in indexes:
                doc = documents.get(keys[index])
                if doc is not None and matches(doc, cleared):
                    yield orders[index], doc

        walks = [walk(d, seq) for d, seq in scope.cleared.items()]
        merged = walks[0] if len(walks) == 1 else heapq.merge(
            *walks, key=lambda pair: pair[0], reverse=newest_first)
        return [Message.from_doc(helpers.make_datetime_timezone_aware_in_document(doc))
                for _, doc in islice(merged, limit)]
