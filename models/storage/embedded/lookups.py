"""Candidate documents without a scan: by `_id` (mongomock keeps documents in a dict keyed by
it), by a few equality indexes on fields written once at insert, and ordered per group: a
dialog's messages by `archive_order` (the archive's pages: embedded/archive.py), by `seq` (a
range of a dialog's history: read marks, unread counts, what is after a cleared position) and
by `(date_sent, seq, _id)` (history pages in their order: embedded/messages.py).

An update that sets an indexed field goes through mongomock's own path (updates.py leaves those
fields alone), which stores the document again: `CollectionStore.__setitem__` (patches.py)
re-indexes it, so the indexes cannot go stale."""
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


# collection → {index: (group field, order fields)}; an order of one field is its value, of
# several the tuple of their values; a document missing any of them is not in that index
ORDERED_INDEXES: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "messages": {"archive": ("chat_dialog_id", ("archive_order",)),
                 "seq": ("chat_dialog_id", ("seq",)),
                 "history": ("chat_dialog_id", ("date_sent", "seq", "_id"))},
    # one user's (or one big dialog's) feed entries by cursor (embedded/feed.py)
    "feed": {"cursor": ("key", ("_id",))},
}


def ordered_fields(collection: str) -> set[str]:
    """Every field the ordered indexes of `collection` read."""
    return {name for group, orders in ORDERED_INDEXES.get(collection, {}).values()
            for name in (group, *orders)}


def index_fields(collection: str) -> frozenset[str]:
    """Every field the equality and ordered indexes of `collection` read."""
    return frozenset(EQUALITY_INDEXES.get(collection, ())) | frozenset(ordered_fields(collection))


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


def ordered_group(store: Any, value: Any, index: str = "archive") -> OrderedGroup | None:
    """The ordered list of the group `value` in `index` (None: no such group or index)."""
    indexes = store.__dict__.get("_ord_index")
    groups = indexes.get(index) if indexes is not None else None
    return groups.get(value) if groups is not None else None


def indexed_count(store: Any, field: str, value: Any) -> int | None:
    """How many documents have `field` == `value`, from its equality index (None: not indexed)."""
    indexes = store.__dict__.get("_eq_index")
    index = indexes.get(field) if indexes is not None else None
    if index is None:
        return None
    try:
        return len(index.get(value) or ())
    except TypeError:
        return None


def complete_group(store: Any, value: Any, index: str) -> OrderedGroup | None:
    """The group `value` of `index` when it holds every document of that group (each had all the
    order fields), so that walking it sees them all; an empty group when there are none; None
    when some document is missing from it (then the caller scans)."""
    group_field = ORDERED_INDEXES[store.name][index][0]
    count = indexed_count(store, group_field, value)
    group = ordered_group(store, value, index)
    if count is None:
        return None
    if group is None:
        return OrderedGroup() if count == 0 else None
    return group if len(group.keys) == count else None


def _order_of(doc: dict[str, Any], fields: tuple[str, ...]) -> Any:
    if len(fields) == 1:
        return doc.get(fields[0])
    values = tuple(doc.get(name) for name in fields)
    return None if None in values else values


def _order_add(store: Any, key: Any, doc: Any) -> None:
    indexes = ORDERED_INDEXES.get(store.name)
    if not indexes or not isinstance(doc, dict):
        return
    for name, (group_field, orders) in indexes.items():
        group, order = doc.get(group_field), _order_of(doc, orders)
        if group is None or order is None or isinstance(group, (dict, list)):
            continue
        try:
            store.__dict__.setdefault("_ord_index", {}).setdefault(name, {}) \
                .setdefault(group, OrderedGroup()).add(order, key)
        except TypeError:  # unhashable or unordered values: that document is not in the index
            continue


def _order_remove(store: Any, key: Any, doc: Any) -> None:
    indexes = store.__dict__.get("_ord_index")
    if not indexes or not isinstance(doc, dict):
        return
    for name, (group_field, orders) in ORDERED_INDEXES.get(store.name, {}).items():
        groups = indexes.get(name)
        if not groups:
            continue
        try:
            found = groups.get(doc.get(group_field))
            if found is not None:
                found.remove(_order_of(doc, orders), key)
                if not found.orders:
                    groups.pop(doc.get(group_field), None)
        except TypeError:
            continue


_RANGE_OPS = frozenset({"$gt", "$gte", "$lt", "$lte"})


def _range_candidates(store: Any, filter_: Any) -> list[Any] | None:
    """The keys of a dialog's messages in a `seq` range the filter pins down (`chat_dialog_id`
    equal to a value and `seq` bounded by numbers), from the `seq` index; None when it does not
    apply. Documents whose `seq` is not a number are not in the index and match no numeric bound
    (MongoDB compares within a type), so nothing that matches is left out."""
    indexes = ORDERED_INDEXES.get(store.name)
    if not indexes or "seq" not in indexes or not isinstance(filter_, dict):
        return None
    group_field = indexes["seq"][0]
    value, bounds = filter_.get(group_field), filter_.get("seq")
    if value is None or isinstance(value, (dict, list)) or type(bounds) is not dict \
            or not bounds or not set(bounds) <= _RANGE_OPS \
            or not all(type(v) in (int, float) for v in bounds.values()):
        return None
    try:
        group = ordered_group(store, value, "seq")
    except TypeError:
        return None
    if group is None:
        return []
    orders, lo, hi = group.orders, 0, len(group.orders)
    for op, bound in bounds.items():
        if op == "$gt":
            lo = max(lo, bisect_right(orders, bound))
        elif op == "$gte":
            lo = max(lo, bisect_left(orders, bound))
        elif op == "$lt":
            hi = min(hi, bisect_left(orders, bound))
        else:
            hi = min(hi, bisect_right(orders, bound))
    return group.keys[lo:hi] if lo < hi else []


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
