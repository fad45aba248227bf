"""Store operation latency: the database handed to the stores, with every collection operation
timed into `chatbridge_store_operation_seconds{collection, operation}` (models/metrics.py).

`timed_database(db, histogram)` wraps the motor (or mongomock-motor) database once, where the
services are built (models/services/container.py): each `db[name]` is a `TimedCollection` whose
operations observe their time, including failures; a `find` cursor is timed from its first read to
its last document (`to_list` or `async for`). Anything else is passed through untimed. The cost per
operation is in docs/metrics.md ("Cost").
"""
from __future__ import annotations

from time import perf_counter
from typing import Any, AsyncIterator

from models.metrics import LatencyHistogram, Series

OPERATIONS = ("find_one", "find_one_and_update", "find_one_and_delete", "find_one_and_replace",
              "insert_one", "insert_many", "update_one", "update_many", "replace_one",
              "delete_one", "delete_many", "count_documents", "distinct", "bulk_write")


def _timed(method: Any, series: Series):
    observe = series.observe

    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            observe(perf_counter() - start)

    return timed


class TimedCursor:
    """A `find` cursor: chaining returns this wrapper, reading it is timed."""

    __slots__ = ("wrapped", "_series")

    def __init__(self, cursor: Any, series: Series) -> None:
        self.wrapped = cursor
        self._series = series

    def sort(self, *args: Any, **kwargs: Any) -> "TimedCursor":
        self.wrapped = self.wrapped.sort(*args, **kwargs)
        return self

    def limit(self, *args: Any, **kwargs: Any) -> "TimedCursor":
        self.wrapped = self.wrapped.limit(*args, **kwargs)
        return self

    def skip(self, *args: Any, **kwargs: Any) -> "TimedCursor":
        self.wrapped = self.wrapped.skip(*args, **kwargs)
        return self

    async def to_list(self, *args: Any, **kwargs: Any) -> list[Any]:
        start = perf_counter()
        try:
            return await self.wrapped.to_list(*args, **kwargs)
        finally:
            self._series.observe(perf_counter() - start)

    async def __aiter__(self) -> AsyncIterator[Any]:
        start = perf_counter()
        try:
            async for doc in self.wrapped:
                yield doc
        finally:
            self._series.observe(perf_counter() - start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class TimedCollection:
    """One collection with its operations timed (see the module text); `wrapped` is the driver's."""

    def __init__(self, collection: Any, name: str, histogram: LatencyHistogram) -> None:
        self.wrapped = collection
        for operation in OPERATIONS:
            setattr(self, operation, _timed(getattr(collection, operation),
                                            histogram.series(name, operation)))
        self._find = histogram.series(name, "find")

    def find(self, *args: Any, **kwargs: Any) -> TimedCursor:
        return TimedCursor(self.wrapped.find(*args, **kwargs), self._find)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class TimedDatabase:
    """The database with its collections timed; attributes other than `db[name]` pass through."""

    def __init__(self, db: Any, histogram: LatencyHistogram) -> None:
        self.wrapped = db
        self._histogram = histogram
        self._collections: dict[str, TimedCollection] = {}

    def __getitem__(self, name: str) -> TimedCollection:
        collection = self._collections.get(name)
        if collection is None:
            collection = self._collections[name] = TimedCollection(self.wrapped[name], name,
                                                                   self._histogram)
        return collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def timed_database(db: Any, histogram: LatencyHistogram) -> TimedDatabase:
    return db if isinstance(db, TimedDatabase) else TimedDatabase(db, histogram)


def unwrapped(collection: Any) -> Any:
    """The driver's collection behind a `TimedCollection` (or the collection itself)."""
    return collection.wrapped if isinstance(collection, TimedCollection) else collection
