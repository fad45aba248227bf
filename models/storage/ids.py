"""ObjectId helpers, so that code outside storage never imports bson."""
from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId


def new_id() -> str:
    return str(ObjectId())


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 24 and ObjectId.is_valid(value)


def to_object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def oid_or_none(value: object) -> ObjectId | None:
    """The ObjectId for a 24-hex string; None for anything else."""
    return to_object_id(value) if isinstance(value, str) else None


def id_to_str(doc: dict | None) -> dict | None:
    """Documents leave the store with their ObjectId `_id` as a string."""
    if doc is not None:
        doc["_id"] = str(doc["_id"])
    return doc


def ids_in_query(query: dict) -> dict:
    """Converts string ids in a query's `_id` condition to ObjectIds."""
    if "_id" not in query:
        return query
    query = dict(query)
    cond = query["_id"]
    if isinstance(cond, dict):
        query["_id"] = {op: ([oid_or_none(v) for v in val] if isinstance(val, list) else oid_or_none(val))
                        for op, val in cond.items()}
    else:
        query["_id"] = oid_or_none(cond)
    return query
