"""Candidate documents without a scan: by `_id` (mongomock keeps documents in a dict keyed by
it), by a few equality indexes on fields written once at insert, and ordered per group (a
dialog's messages by `archive_order`, for the archive's pages: embedded/archive.py)."""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

# collection → fields written once at insert and never updated (so the index cannot go stale)
EQUALITY_INDEXES: dict[str, tuple[str, ...]] = {
    "messages": ("chat_dialog_id",),
    "dialog_members": ("dialog_id", "user_id"),
    "dialogs": ("private_key",  # a pair's dialog (`with` in the archive, first 1:1 messages)
                "type"),  # the app's broadcast dialogs (every feed page reads them)
    "feed_shares": ("user_id", "dialog_id"),
    "message_tombstones": ("chat_dialog_id",),
}


# collection → (group field, order field): both written once at insert and never updated
ORDERED_INDEXES: dict[str, tuple[str, str]] = {
    "messages": ("chat_dialog_id", "archive_order"),
    "feed": ("key", "_id"),  # one user's (or one big dialog's) feed entries by cursor
}


class OrderedGroup:
    """One group's documents sorted by their order value: parallel lists of values and keys."""

    __slots__ = ("orders", "keys")

    def __init__(self) -> None:
        self.orders: list[Any] = []
        self.keys: list[Any] = []

    def add(self, order: Any, key: Any) -> None:
        if not self.orders or self.orders[-1] < order:  # stored in order: the common case
            self.orders.append(order)
            self.keys.append(key)
            return
        index = bisect_right(self.orders, order)
        self.orders.insert(index, order)
        self.keys.insert(index, key)

    def remove(self, order: Any, key: Any) -> None:
        index = bisect_left(self.orders, order)
        while index < len(self.orders) and self.orders[index] == order:
            if self.keys[index] == key:
                del self.orders[index]
                del self.keys[index]
                return
            index += 1

    def between(self, after: Any, before: Any) -> tuple[int, int]:
        """Index range of the orders strictly between `after` and `before` (None: open)."""
        lo = bisect_right(self.orders, after) if after is not None else 0
        hi = bisect_left(self.orders, before) if before is not None else len(self.orders)
        return lo, max(lo, hi)


def ordered_group(store: Any, value: Any) -> OrderedGroup | None:
    """The ordered list of the group `value` (None: no such group or no ordered index)."""
    groups = store.__dict__.get("_ord_index")
    return groups.get(value) if groups is not None else None


def _order_add(store: Any, key: Any, doc: Any) -> None:
    fields = ORDERED_INDEXES.get(store.name)
    if not fields or not isinstance(doc, dict):
        return
    group, order = doc.get(fields[0]), doc.get(fields[1])
    if group is None or order is None or isinstance(group, (dict, list)):
        return
    try:
        store.__dict__.setdefault("_ord_index", {}).setdefault(group, OrderedGroup()).add(order, key)
    except TypeError:  # unhashable or unordered values: that document is not in the index
        return


def _order_remove(store: Any, key: Any, doc: Any) -> None:
    groups = store.__dict__.get("_ord_index")
    fields = ORDERED_INDEXES.get(store.name)
    if not groups or not fields or not isinstance(doc, dict):
        return
    try:
        found = groups.get(doc.get(fields[0]))
        if found is not None:
            found.remove(doc.get(fields[1]), key)
            if not found.orders:
                groups.pop(doc.get(fields[0]), None)
    except TypeError:
        return


def _id_candidates(filter_: Any) -> list[Any] | None:
    """The `_id` values a filter pins down, or None when it does not pin them."""
    if not isinstance(filter_, dict) or "_id" not in filter_:
        return None
    cond = filter_["_id"]
    if isinstance(cond, dict):
        if set(cond) == {"$in"} and isinstance(cond["$in"], (list, tuple)):
            values = cond["$in"]
        elif set(cond) == {"$eq"}:
            values = [cond["$eq"]]
        else:
            return None
    else:
        values = [cond]
    try:
        for value in values:
            hash(value)
    except TypeError:
        return None
    return list(values)


def _indexed_candidates(store: Any, filter_: Any) -> list[Any] | None:
    fields = EQUALITY_INDEXES.get(store.name)
    if not fields or not isinstance(filter_, dict):
        return None
    indexes = getattr(store, "_eq_index", None)
    if indexes is None:
        return None
    for field in fields:
        value = filter_.get(field)
        if value is None or isinstance(value, (dict, list)):
            continue
        try:
            bucket = indexes[field].get(value)
        except TypeError:
            continue
        return list(bucket) if bucket else []
    return None


def _index_add(store: Any, key: Any, doc: Any) -> None:
    fields = EQUALITY_INDEXES.get(store.name)
    if not fields:
        return
    indexes = store.__dict__.setdefault("_eq_index", {f: {} for f in fields})
    for field in fields:
        value = doc.get(field) if isinstance(doc, dict) else None
        if value is None or isinstance(value, (dict, list)):
            continue
        try:
            indexes[field].setdefault(value, {})[key] = None
        except TypeError:
            continue


def _index_remove(store: Any, key: Any, doc: Any) -> None:
    indexes = getattr(store, "_eq_index", None)
    if not indexes or not isinstance(doc, dict):
        return
    for field, index in indexes.items():
        value = doc.get(field)
        try:
            bucket = index.get(value)
        except TypeError:
            continue
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                index.pop(value, None)
