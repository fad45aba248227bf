"""Candidate documents without a scan: by `_id` (mongomock keeps documents in a dict keyed by
it) and by a few equality indexes on fields written once at insert."""
from __future__ import annotations

from typing import Any

# collection → fields written once at insert and never updated (so the index cannot go stale)
EQUALITY_INDEXES: dict[str, tuple[str, ...]] = {
    "messages": ("chat_dialog_id",),
    "dialog_members": ("dialog_id", "user_id"),
}


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
