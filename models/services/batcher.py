"""Group commit: concurrent calls of one operation are run together, one batch at a time.

`submit(item)` queues the item and waits for its own result (`submit_many`: several, in order). A batch starts one event-loop turn
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
from typing import Awaitable, Callable, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_running: contextvars.ContextVar[object | None] = contextvars.ContextVar("batcher_running", default=None)


class Batcher(Generic[T, R]):
    def __init__(self, run: Callable[[list[T]], Awaitable[list[R | BaseException]]],
                 max_batch: int = 256) -> None:
        self._run = run
        self._max = max_batch
        self._queue: list[tuple[T, asyncio.Future]] = []
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
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self._queue.extend(zip(items, futures))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await asyncio.gather(*futures, return_exceptions=True)

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
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                raise
            except Exception as exc:  # noqa: BLE001 - each caller gets the failure
                results = [exc] * len(items)
            for (_, future), result in zip(batch, results):
                if future.done():  # the caller gave up
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
