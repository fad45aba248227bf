"""mongomock's own document table behind a mongomock-motor collection (read-only uses)."""
from __future__ import annotations

from typing import Any

from models.storage.timing import unwrapped

# mongomock-motor keeps the wrapped mongomock collection in a name-mangled attribute
_WRAPPED = "_AsyncMongoMockCollection__collection"


def document_table(collection: Any) -> dict[Any, dict[str, Any]] | None:
    """The dict mongomock keeps the collection's documents in (key -> stored document, in
    insertion order); None when this mongomock-motor does not expose it."""
    try:
        return unwrapped(collection).__dict__[_WRAPPED]._store._documents
    except (KeyError, AttributeError):
        return None


def collection_store(collection: Any) -> Any | None:
    """mongomock's `CollectionStore` behind a mongomock-motor collection (its documents and the
    indexes lookups.py keeps on it); None when this mongomock-motor does not expose it."""
    try:
        return unwrapped(collection).__dict__[_WRAPPED]._store
    except (KeyError, AttributeError):
        return None
