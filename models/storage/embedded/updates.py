"""In-place updates of top-level, non-unique fields, and plain inclusion projections."""
from __future__ import annotations

from typing import Any

from models.storage.embedded.documents import _SCALARS
from models.storage.embedded.lookups import index_fields

FAST_UPDATE_OPS = frozenset({"$set", "$inc", "$addToSet", "$unset"})


def _indexed_fields(collection: Any) -> frozenset[str]:
    """Fields an in-place update must not touch: those of unique indexes (mongomock checks them
    after each update) and of the equality and ordered indexes (lookups.py). Other mongomock indexes are metadata.
    Kept on the store until its set of indexes changes."""
    store = collection._store
    names = tuple(store.indexes)
    cached = store.__dict__.get("_fast_fields")
    if cached is not None and cached[0] == names:
        return cached[1]
    fields = set(index_fields(collection.name))
    for index in store.indexes.values():
        if not index.get("unique"):
            continue
        for key in index.get("key") or ():
            name = key[0] if isinstance(key, (list, tuple)) else key
            fields.add(str(name).split(".")[0])
    store.__dict__["_fast_fields"] = (names, frozenset(fields))
    return frozenset(fields)


_NUMBERS = (int, float)


def _plan_update(document: Any, indexed: set[str]) -> list[tuple[str, str, Any]] | None:
    """`(operator, field, value)` steps for an update the fast path can apply, else None."""
    if type(document) is not dict or not document:
        return None
    steps = []
    for op, fields in document.items():
        if op not in FAST_UPDATE_OPS or type(fields) is not dict or not fields:
            return None
        for field, value in fields.items():
            if type(field) is not str or not field or "." in field or field.startswith("$") \
                    or field == "_id" or field in indexed:
                return None
            if op == "$inc" and (type(value) not in _NUMBERS):
                return None
            if op == "$addToSet" and type(value) not in _SCALARS:
                return None
            steps.append((op, field, value))
    fields_seen = [f for _, f, _ in steps]
    if len(fields_seen) != len(set(fields_seen)):
        return None  # the same field under two operators: MongoDB refuses it, mongomock decides
    return steps


def _can_apply(doc: dict, steps: list[tuple[str, str, Any]]) -> bool:
    for op, field, _ in steps:
        if field not in doc:
            continue
        current = doc[field]
        if op == "$inc" and type(current) not in _NUMBERS:
            return False
        if op == "$addToSet" and type(current) is not list:
            return False
    return True


def _apply(doc: dict, steps: list[tuple[str, str, Any]], patch: Any) -> bool:
    """Applies the steps in place; True when the document changed."""
    changed = False
    for op, field, value in steps:
        if op == "$set":
            new = patch(value)
            if field not in doc or doc[field] != new:
                changed = True
            doc[field] = new
        elif op == "$inc":
            if value != 0 or field not in doc:
                changed = True
            doc[field] = doc.get(field, 0) + value
        elif op == "$addToSet":
            current = doc.get(field)
            if current is None and field not in doc:
                doc[field] = [value]
                changed = True
            elif value not in current:  # mongomock's (and Python's) equality, as its own path
                current.append(value)
                changed = True
        elif op == "$unset":
            if field in doc:
                del doc[field]
                changed = True
    return changed


def _inclusion(projection: Any) -> list[str] | None | bool:
    """The fields of a plain inclusion projection (`{"seq": 1}`, `_id` kept unless 0), None for
    no projection, False for anything the fast path leaves to mongomock."""
    if projection is None:
        return None
    if type(projection) is not dict or not projection:
        return False
    keep_id = True
    fields = []
    for key, value in projection.items():
        if type(key) is not str or "." in key or key.startswith("$"):
            return False
        if key == "_id":
            if value in (0, False) and type(value) in (int, bool):
                keep_id = False
                continue
            if value not in (1, True):
                return False
            continue
        if type(value) not in (int, bool) or value not in (1, True):
            return False
        fields.append(key)
    if not fields:
        return ["_id"] if keep_id else False  # `{"_id": 0}` alone: mongomock's rules
    return (["_id"] if keep_id else []) + fields
