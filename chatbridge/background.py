"""A coroutine that runs in the background for as long as a `with` block does."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable


@contextlib.asynccontextmanager
async def running(job: Callable[[], Awaitable[None]], name: str):
    """Starts `job()` as a task; cancels it (and waits for it) when the block ends."""
    task = asyncio.create_task(job(), name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
