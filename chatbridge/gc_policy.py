"""Garbage-collector policy for the long-running `serve` process.

CPython's full (generation 2) collection walks every live container object. The embedded store
keeps every document as Python dicts and lists, so a full pass grows with the data and stalls
the event loop (the measurements are in docs/benchmarks.md). Objects that
survived start-up, and then every `interval` seconds the objects that survived a young collection,
are moved to the permanent generation (`gc.freeze`), which full passes skip. Reference counting
still frees them when they are dropped; only cyclic garbage that was alive when frozen is kept,
which is why young generations are collected first, and why every `thaw` seconds everything is
unfrozen, fully collected once (one pause that grows with the data: it is logged) and frozen again.
While the freezer runs, automatic full passes are ten times rarer (`FULL_PASS_THRESHOLD`): between
two freezes they only walked that second's survivors again and again, and found nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from chatbridge.background import running

logger = logging.getLogger(__name__)
FULL_PASS_THRESHOLD = 100  # young (generation 1) passes per automatic full pass; CPython's is 10


def freeze_survivors() -> float:
    """Collects the young generations, then freezes what survived; returns the pause in ms."""
    started = time.perf_counter()
    gc.collect(1)
    gc.freeze()
    return (time.perf_counter() - started) * 1000


def thaw() -> tuple[int, float]:
    """Unfreezes, collects everything (cyclic garbage frozen while alive included), freezes
    again; returns (objects collected, pause in ms)."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    return collected, (time.perf_counter() - started) * 1000


@contextlib.asynccontextmanager
async def gc_freezer(interval: float, thaw_every: float = 600.0):
    """Freezes once now, then every `interval` seconds while the block runs (0: never); every
    `thaw_every` seconds (0: never) a full collection of everything (see `thaw`)."""
    if interval <= 0:
        yield
        return
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], FULL_PASS_THRESHOLD)
    gc.collect()
    gc.freeze()

    async def loop() -> None:
        last_thaw = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            if thaw_every > 0 and time.monotonic() - last_thaw >= thaw_every:
                collected, pause = thaw()
                last_thaw = time.monotonic()
                logger.info("gc: full collection: %d objects collected in %.1f ms (%d frozen)",
                            collected, pause, gc.get_freeze_count())
                continue
            pause = freeze_survivors()
            if pause > 20:
                logger.info("gc: freezing survivors took %.1f ms (%d objects frozen)", pause,
                            gc.get_freeze_count())

    try:
        async with running(loop, "gc-freezer"):
            yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
