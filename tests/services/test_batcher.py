"""Group commit: batches form from concurrent calls, results and failures reach the right caller."""
from __future__ import annotations

import asyncio

import pytest

from models.services.batcher import Batcher


async def test_concurrent_items_share_a_batch_and_get_their_own_results():
    seen: list[list[int]] = []

    async def run(items: list[int]) -> list[object]:
        seen.append(list(items))
        await asyncio.sleep(0.01)
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(run, max_batch=4)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
    assert results[:3] == [0, 10, 20] and isinstance(results[3], ValueError) and results[4:] == [40, 50]
    assert seen == [[0, 1, 2, 3], [4, 5]]  # max_batch, then what was left
    assert await batcher.submit(7) == 70  # light load: a batch of one, at once
    assert seen[-1] == [7]


async def test_a_failing_run_fails_its_batch_only_and_reentry_is_refused():
    calls = 0

    async def run(items: list[int]) -> list[object]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("store down")
        if items == [99]:
            return [await batcher.submit(1)]  # re-entrant: refused, not a deadlock
        return items

    batcher: Batcher[int, int] = Batcher(run)
    with pytest.raises(ConnectionError):
        await batcher.submit(1)
    assert await batcher.submit(2) == 2
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(batcher.submit(99), 2)


async def test_a_cancelled_caller_does_not_stop_its_item():
    done: list[int] = []

    async def run(items: list[int]) -> list[object]:
        await asyncio.sleep(0.05)
        done.extend(items)
        return items

    batcher: Batcher[int, int] = Batcher(run)
    task = asyncio.ensure_future(batcher.submit(5))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.1)
    assert done == [5]


async def test_submit_many_keeps_order_shares_batches_and_spans_several():
    seen: list[list[int]] = []

    async def run(items: list[int]) -> list[object]:
        seen.append(list(items))
        await asyncio.sleep(0)
        return [KeyError(i) if i % 5 == 0 else -i for i in items]

    batcher: Batcher[int, int] = Batcher(run, max_batch=4)
    group, single, empty = await asyncio.gather(batcher.submit_many([1, 2, 3, 4, 5, 6]), batcher.submit(7),
                                                batcher.submit_many([]))
    assert group[:4] == [-1, -2, -3, -4] and isinstance(group[4], KeyError) and group[5] == -6
    assert single == -7 and empty == []
    assert seen == [[1, 2, 3, 4], [5, 6, 7]]  # the group spans two batches; the single joins
    assert isinstance((await batcher.submit_many([10]))[0], KeyError)  # errors are results


async def test_submit_many_gets_the_failure_of_a_failing_run():
    async def run(items: list[int]) -> list[object]:
        raise ConnectionError("store down")

    batcher: Batcher[int, int] = Batcher(run)
    results = await batcher.submit_many([1, 2])
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
