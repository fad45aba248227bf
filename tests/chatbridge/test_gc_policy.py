"""The serve process's garbage-collector policy: survivors are frozen, young garbage is not."""
from __future__ import annotations

import asyncio
import gc
import weakref

from chatbridge.gc_policy import FULL_PASS_THRESHOLD, freeze_survivors, gc_freezer, thaw


class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the collector frees it


async def test_freezer_freezes_survivors_and_unfreezes_on_exit():
    gc.unfreeze()
    kept = [Node() for _ in range(100)]
    before = gc.get_threshold()
    async with gc_freezer(0.05):
        assert gc.get_threshold() == (before[0], before[1], FULL_PASS_THRESHOLD)  # rarer full passes
        frozen_at_start = gc.get_freeze_count()
        assert frozen_at_start > 0
        more = [Node() for _ in range(1000)]
        assert sum(1 for o in gc.get_objects() if type(o) is Node) == 1000  # young, not frozen
        await asyncio.sleep(0.2)
        # frozen objects are out of the collector's generations (full passes skip them)
        assert not any(type(o) is Node for o in gc.get_objects())
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    assert sum(1 for o in gc.get_objects() if type(o) is Node) == 1100
    assert kept and more


def test_young_cyclic_garbage_is_collected_before_freezing():
    gc.unfreeze()
    gc.collect()
    refs = [weakref.ref(Node()) for _ in range(500)]  # garbage at once, kept alive by its cycle
    assert any(r() is not None for r in refs)
    freeze_survivors()
    try:
        assert all(r() is None for r in refs)
    finally:
        gc.unfreeze()


async def test_zero_interval_turns_the_policy_off():
    gc.unfreeze()
    async with gc_freezer(0):
        assert gc.get_freeze_count() == 0


def test_thaw_collects_cyclic_garbage_that_was_frozen_alive():
    gc.unfreeze()
    alive = [Node() for _ in range(200)]
    refs = [weakref.ref(n) for n in alive]
    freeze_survivors()
    try:
        del alive  # garbage now, but frozen: full passes skip it
        gc.collect()
        assert all(r() is not None for r in refs)
        collected, pause = thaw()
        assert all(r() is None for r in refs) and collected >= 200 and pause >= 0
        assert gc.get_freeze_count() > 0  # frozen again
    finally:
        gc.unfreeze()


async def test_the_freezer_thaws_on_schedule():
    gc.unfreeze()
    alive = [Node() for _ in range(50)]
    refs = [weakref.ref(n) for n in alive]
    async with gc_freezer(0.02, thaw_every=0.1):
        del alive
        await asyncio.sleep(0.4)
        assert all(r() is None for r in refs)
