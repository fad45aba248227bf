"""Group commit: concurrent calls of one operation are run together, one batch at a time.

`submit(item)` queues the item and waits for its own result (`submit_many`: several, in
order). A batch starts one event-loop turn
after its first item arrived (so callers woken together share it) and takes up to `max_batch`
items; items arriving while a batch runs form the next one. Under light load a batch is a single
item and adds no delay; under heavy load the store sees one write per batch instead of one per item.
`run` returns one result or exception per item, in order; an exception escaping `run` fails every
item of that batch. A caller that gives up (cancellation) does not stop its item from being run.
`run` must not submit to its own batcher (it would wait for itself): that raises at once.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Awaitable, Callable, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_running: contextvars.ContextVar[object | None] = contextvars.ContextVar("batcher_running", default=None)


class Batcher(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[list[R | BaseException]]],
                 max_batch: int = 256) -> None:
        self._run = run
        self._max = max_batch
        self._queue: list[tuple[T, Any]] = []  # (item, its future or its (group, index))
        self._task: asyncio.Task | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        if _running.get() is self:
            raise RuntimeError("a batch submitted to its own batcher (it would wait for itself)")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await future

    async def submit_many(self, items: list[T]) -> list[R | BaseException]:
        """Several items in order, in as few batches as fit; one result or exception each."""
        if _running.get() is self:
            raise RuntimeError("a batch submitted to its own batcher (it would wait for itself)")
        if not items:
            return []
        group = _Group(len(items), asyncio.get_running_loop().create_future())
        self._queue.extend((item, (group, index)) for index, item in enumerate(items))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await group.future

    async def _drain(self) -> None:
        _running.set(self)  # this task's own context
        await asyncio.sleep(0)  # callers woken in the same turn join this batch
        while self._queue:
            batch, self._queue = self._queue[:self._max], self._queue[self._max:]
            items = [item for item, _ in batch]
            self.batches += 1
            self.items += len(items)
            try:
                results: list = await self._run(items)
                if len(results) != len(items):
                    raise RuntimeError(f"batch returned {len(results)} results for {len(items)} items")
            except asyncio.CancelledError as exc:
                for _, sink in batch:
                    _settle(sink, exc)
                raise
            except Exception as exc:  # noqa: BLE001 - each caller gets the failure
                results = [exc] * len(items)
            for (_, sink), result in zip(batch, results):
                _settle(sink, result)


class _Group:
    """The results of one `submit_many`: its future is set once every item has one."""

    __slots__ = ("results", "missing", "future")

    def __init__(self, size: int, future: asyncio.Future) -> None:
        self.results: list = [None] * size
        self.missing = size
        self.future = future


def _settle(sink, result) -> None:
    """Hands one result to its caller: a future (`submit`) or a slot of a group (`submit_many`)."""
    if isinstance(sink, asyncio.Future):
        if sink.done():  # the caller gave up
            return
        if isinstance(result, BaseException):
            sink.set_exception(result)
        else:
            sink.set_result(result)
        return
    group, index = sink
    if group.future.done():
        return
    if isinstance(result, asyncio.CancelledError):
        group.future.cancel()  # the batcher stopped: the rest of the group will not run
        return
    group.results[index] = result
    group.missing -= 1
    if group.missing == 0:
        group.future.set_result(group.results)
