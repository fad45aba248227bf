"""Cursor results without mongomock's generic comparisons and double copies: native sorts and
the stored documents a cursor answers."""
from __future__ import annotations

import functools
from datetime import datetime as _datetime
from typing import Any

from bson import ObjectId

from models.storage.embedded import switch
from models.storage.embedded.filters import _MISSING
from models.storage.embedded.updates import _inclusion


def _raw_dataset(cursor: Any):
    """The stored documents a cursor answers, in order, without copies (the caller copies them
    with their time zone; with a plain inclusion projection, new dicts of the kept fields), or None
    when the fast path does not apply: another projection, a sort mongomock must decide, a client
    without tz_aware, or a factory we do not recognise."""
    factory = cursor._factory
    if not switch.ON or not cursor.collection.codec_options.tz_aware \
            or not isinstance(factory, functools.partial) or factory.keywords \
            or len(factory.args) != 4:
        return None
    spec, sort, fields, as_class = factory.args
    kept = _inclusion(fields)
    if kept is False or as_class is not dict:
        return None
    keys = _native_sort_keys(sort) if sort else None
    if sort and keys is None:
        return None
    dataset = cursor.collection._iter_documents(spec)
    if keys is not None:
        dataset = _native_sort(list(dataset), keys)
        if dataset is None:
            return None
    if kept is None:
        return dataset
    return ({k: doc[k] for k in kept if k in doc} for doc in dataset)


def _native_sort_keys(sort: Any) -> list[tuple[str, bool]] | None:
    if isinstance(sort, dict):
        sort = list(sort.items())
    if not isinstance(sort, (list, tuple)) or not sort:
        return None
    keys = []
    for item in sort:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        key, direction = item
        if type(key) is not str or not key or key.startswith("$") or "." in key \
                or direction not in (1, -1):
            return None
        keys.append((key, direction < 0))
    return keys


_SORT_KINDS = {int: "number", float: "number", str: "str", ObjectId: "oid", _datetime: "date"}


def _native_sort(docs: list[dict], keys: list[tuple[str, bool]]) -> list[dict] | None:
    """Sorts with Python's own comparisons when every document has each key with values of one
    kind (numbers, strings, ObjectIds or dates), as mongomock's type-ordered comparison would;
    None otherwise. Stable, key by key from the last, as mongomock does."""
    for key, _ in keys:
        kind = None
        for doc in docs:
            value = doc.get(key, _MISSING)
            this = _SORT_KINDS.get(type(value))
            if this is None or (kind is not None and this != kind):
                return None
            kind = this
    ordered = list(docs)
    for key, descending in reversed(keys):
        ordered.sort(key=lambda d: d[key], reverse=descending)
    return ordered
