"""ObjectId helpers, so that code outside storage never imports bson."""
from __future__ import annotations

from datetime import datetime

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


def id_time(value: str) -> datetime | None:
    oid = to_object_id(value)
    return oid.generation_time if oid else None
