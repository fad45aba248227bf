"""Maps driver errors to domain errors at the storage boundary."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from pymongo.errors import DuplicateKeyError

from models.errors import ConflictError


@contextmanager
def duplicates_as_conflict(message: str, field: str | None = None) -> Iterator[None]:
    try:
        yield
    except DuplicateKeyError as exc:
        raise ConflictError(message, field=field) from exc
