"""Garbage-collector policy for the long-running `serve` process.

CPython's full (generation 2) collection walks every live container object. The embedded store
keeps every document as Python dicts and lists, so a full pass grows with the data and stalls
the event loop (measured: 80-90 ms with a few thousand messages stored, hit twice in five seconds
at 500 messages/s). Objects that survived start-up, and then every `interval` seconds the objects
that survived a young collection, are moved to the permanent generation (`gc.freeze`), which full
passes skip. Reference counting still frees them when they are dropped; only cyclic garbage that
was already old when frozen is kept, which is why young generations are collected first.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from chatbridge.background import running

logger = logging.getLogger(__name__)


def freeze_survivors() -> float:
    """Collects the young generations, then freezes what survived; returns the pause in ms."""
    started = time.perf_counter()
    gc.collect(1)
    gc.freeze()
    return (time.perf_counter() - started) * 1000


@contextlib.asynccontextmanager
async def gc_freezer(interval: float):
    """Freezes once now, then every `interval` seconds while the block runs (0: never)."""
    if interval <= 0:
        yield
        return
    gc.collect()
    gc.freeze()

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            pause = freeze_survivors()
            if pause > 20:
                logger.info("gc: freezing survivors took %.1f ms (%d objects frozen)", pause,
                            gc.get_freeze_count())

    try:
        async with running(loop, "gc-freezer"):
            yield
    finally:
        gc.unfreeze()
