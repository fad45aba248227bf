"""The start-up indexes on the embedded store: only those mongomock models correctly.

mongomock ignores TTL and partial filters, so indexes with either are left out (the services check
uniqueness themselves too); the rest, and the removal of obsolete ones, are as on MongoDB."""
from __future__ import annotations

from pymongo import IndexModel

from models.storage import indexes


def modelled(models: dict[str, list[IndexModel]]) -> dict[str, list[IndexModel]]:
    """`models` without the indexes mongomock would not enforce as declared."""
    return {collection: [m for m in entries if "partialFilterExpression" not in m.document
                         and "expireAfterSeconds" not in m.document]
            for collection, entries in models.items()}


async def ensure_indexes(db) -> None:
    await indexes.ensure_indexes(db, modelled(indexes.INDEXES))
