"""Inserts of plain documents: BSON's C encoder checks, one walk copies.

mongomock checks a new document's keys (a Python walk), encodes it to BSON to prove it can be
stored (thrown away), then copies it with datetimes truncated to milliseconds and made naive UTC
(a second walk). Here the encoder alone does the checking (it refuses NUL in keys and types BSON
cannot hold) and the copy is the type-dispatched walk from `documents.py`, which shares strings
with the caller's document (a BSON round trip would copy every key and value: three times the
memory per stored document). A top-level `$` key, an `_id` that is a document, sessions or a
document that fails to encode take mongomock's own path, so errors are mongomock's.
"""
from __future__ import annotations

from typing import Any, Callable

from bson import ObjectId, encode
from bson.errors import InvalidDocument

from models.storage.embedded import switch


def fast_insert(original: Callable[..., Any]) -> Callable[..., Any]:
    from mongomock import DuplicateKeyError, helpers

    def _insert(self, data, session=None, ordered=True):
        patch = helpers.patch_datetime_awareness_in_document
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
            encode(data)  # what BSON cannot hold (NUL in keys, unknown types) is refused here
        except (InvalidDocument, TypeError, ValueError, OverflowError):
            return original(self, data, session, ordered)
        stored = patch(data)  # the copy mongomock stores (dates as it keeps them)
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
