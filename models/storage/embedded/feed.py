"""`EmbeddedFeedStore`: a feed page (models/storage/feed.py) from each key's entries ordered by
cursor (lookups.py: `OrderedGroup`, kept on insert and delete) instead of mongomock's scan of the
whole collection: each key's range is found by bisection and the keys are merged lazily, so a page
costs about its own size and the number of keys read, not the store's size."""
from __future__ import annotations

import heapq
from itertools import islice
from typing import Any, Iterator

from models.storage.embedded import switch
from models.storage.embedded.lookups import ordered_group
from models.storage.embedded.tables import collection_store
from models.storage.feed import FeedStore

Doc = dict[str, Any]


class EmbeddedFeedStore(FeedStore):
    """Cursors come from this process's memory: only this process writes the embedded store, and
    nothing it holds outlives the process (a counter `$inc` per batch cost a store operation).
    The counter lives with the collection's table, so every store on that database shares it."""

    def _table(self) -> Any | None:
        return collection_store(self._col)

    async def take_cursors(self, count: int) -> int:
        table = self._table()
        if table is None:
            return await super().take_cursors(count)
        last = table.__dict__.get("_feed_cursor", 0) + count
        table.__dict__["_feed_cursor"] = last
        return last

    async def current(self) -> int:
        table = self._table()
        if table is None:
            return await super().current()
        return table.__dict__.get("_feed_cursor", 0)

    async def page(self, keys: dict[str, tuple[int, int | None]], limit: int) -> list[Doc]:
        store = collection_store(self._col)
        if not switch.ON or store is None or not keys or limit <= 0:
            return await super().page(keys, limit)
        from mongomock import helpers

        store._remove_expired_documents()
        documents = store._documents

        def walk(key: str, after: int, until: int | None) -> Iterator[tuple[int, Doc]]:
            group = ordered_group(store, key, "cursor")
            if group is None:
                return
            lo, hi = group.between(after, None if until is None else until + 1)
            orders, ids = group.orders, group.keys
            for index in range(lo, hi):
                doc = documents.get(ids[index])
                if doc is not None:
                    yield orders[index], doc

        walks = [walk(k, after, until) for k, (after, until) in keys.items()]
        merged = walks[0] if len(walks) == 1 else heapq.merge(*walks, key=lambda pair: pair[0])
        aware = helpers.make_datetime_timezone_aware_in_document  # its own copy, dates in UTC
        return [aware(doc) for _, doc in islice(merged, limit)]
