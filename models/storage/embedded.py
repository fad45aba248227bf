"""Speed-ups for the embedded in-memory store (mongomock), applied once when it is opened.

mongomock answers every query by scanning the whole collection, even `{"_id": x}`, although it
keeps documents in a dict keyed by `_id`. Lookups by `_id` (equality or `$in`) are the most common
queries here (sessions, dialogs, members, messages, outbox), so they go straight to that dict; the
full filter is still applied to the candidates, so results are the same as mongomock's own.

A few hot fields that never change after insert also get an equality index (value → ids, in
insertion order): a dialog's messages, a dialog's or a user's memberships. Queries with an equality
on one of them scan only that dialog's or user's documents instead of the whole collection.
Cursors with a limit stop after `skip + limit` documents instead of copying every match first
(mongomock copies each matching document before applying skip and limit).
Tested against plain mongomock in tests/models/test_embedded.py.
"""
from __future__ import annotations

from typing import Any

_PATCHED = False

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


def speed_up_mongomock() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from mongomock.collection import Collection
    from mongomock.filtering import filter_applies
    from mongomock.store import CollectionStore

    original = Collection._iter_documents
    original_set = CollectionStore.__setitem__
    original_del = CollectionStore.__delitem__
    original_drop = CollectionStore.drop

    def __setitem__(self, key, val):
        if EQUALITY_INDEXES.get(self.name):
            old = self._documents.get(key)
            if old is not None:
                _index_remove(self, key, old)
            _index_add(self, key, val)
        original_set(self, key, val)

    def __delitem__(self, key):
        if EQUALITY_INDEXES.get(self.name):
            _index_remove(self, key, self._documents.get(key))
        original_del(self, key)

    def drop(self):
        self.__dict__.pop("_eq_index", None)
        original_drop(self)

    def _iter_documents(self, filter):  # noqa: A002 - mongomock's signature
        keys = _id_candidates(filter)
        rest = filter
        if keys is not None:
            # a document found under its key matches the `_id` clause already
            rest = {k: v for k, v in filter.items() if k != "_id"}
        else:
            keys = _indexed_candidates(self._store, filter)
        if keys is None:
            return original(self, filter)
        store = self._store
        store._remove_expired_documents()
        documents = store._documents
        found = []
        seen = set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            doc = documents.get(key)
            if doc is None or isinstance(key, bool) != isinstance(doc.get("_id"), bool):
                continue  # Python's 1 == True; MongoDB tells them apart
            if filter_applies(rest, doc):
                found.append(doc)
        # `$in` answers come in the order of the list, not insertion order: MongoDB promises no
        # natural order either, and callers that care sort.
        return iter(found)

    from itertools import islice

    from mongomock import helpers
    from mongomock.collection import Cursor

    original_results = Cursor._compute_results

    def _compute_results(self, with_limit_and_skip=False):
        limit = abs(self._limit or 0)
        if not with_limit_and_skip or not limit:
            return original_results(self, with_limit_and_skip)
        key = (self._factory, self._skip, limit)
        if self.__dict__.get("_bounded_key") != key:
            docs = list(islice(self._factory(), self._skip + limit))
            if self.collection.codec_options.tz_aware:
                docs = [helpers.make_datetime_timezone_aware_in_document(x) for x in docs]
            self._bounded_results = docs
            self._bounded_key = key
        return self._bounded_results[self._skip:self._skip + limit]

    Collection._iter_documents = _iter_documents
    Cursor._compute_results = _compute_results
    CollectionStore.__setitem__ = __setitem__
    CollectionStore.__delitem__ = __delitem__
    CollectionStore.drop = drop
    _PATCHED = True
