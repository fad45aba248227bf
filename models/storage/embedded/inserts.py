"""Inserts of plain documents: one BSON round trip instead of mongomock's Python walks.

mongomock checks a new document's keys (a walk), encodes it to BSON to prove it can be stored
(thrown away), then copies it with datetimes truncated to milliseconds and made naive UTC (a
second walk). `bson.decode(bson.encode(doc))` does all three in C: encoding refuses what BSON
cannot hold (NUL in keys, unknown types) and decoding gives a private copy with datetimes exactly
as mongomock stores them (and tuples as lists, as a real server returns them). A top-level `$`
key, an `_id` that is a document, sessions or a document that fails to encode take mongomock's
own path, so errors are mongomock's.
"""
from __future__ import annotations

from typing import Any, Callable

from bson import ObjectId, decode, encode
from bson.errors import InvalidDocument

from models.storage.embedded import switch


def fast_insert(original: Callable[..., Any]) -> Callable[..., Any]:
    from mongomock import DuplicateKeyError

    def _insert(self, data, session=None, ordered=True):
        if not switch.ON or session or type(data) is not dict:
            return original(self, data, session, ordered)  # lists come back here one by one
        for key in data:
            if type(key) is not str or key.startswith("$"):
                return original(self, data, session, ordered)
        if "_id" not in data:
            data["_id"] = ObjectId()  # like pymongo: the caller's document gets the id
        object_id = data["_id"]
        if isinstance(object_id, dict):
            return original(self, data, session, ordered)
        try:
            stored = decode(encode(data))
        except (InvalidDocument, TypeError, ValueError, OverflowError):
            return original(self, data, session, ordered)
        store = self._store
        # no TTL index to expire documents first: the dict answers (mongomock takes a lock)
        if object_id in (store if store._ttl_indexes else store._documents):
            raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        store[object_id] = stored
        if any(index.get("unique") for index in store.indexes.values()):
            try:
                self._ensure_uniques(stored)
            except DuplicateKeyError:
                del store[object_id]
                raise
        return object_id

    return _insert
