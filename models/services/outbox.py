"""One consumer's reading of the outbox (the bridge relay, the push fan-out).

Events published by this process arrive on a tap right after their insert, without a query.
`pending` (a store query: events the consumer has not marked done) is read:
- at start and after `restart()` (a reconnect, a failed event to retry);
- after the tap overflowed (a slow consumer: the dropped events are in the store);
- every `poll_seconds` when other processes can publish too (a shared MongoDB; with the embedded
  store only this process can).
A batch is marked done in one write; recently done ids are remembered so an event read both from
the tap and from `pending` is handled once. Events handed out and not done yet (a relay batch
waiting for Prosody's confirmation) are not handed out again, except after `restart()`; a
catch-up goes on after the last event it read, so it moves past events still in flight (never
re-reading the same first batch until its confirmation comes: docs/benchmarks.md, "Why the code
is the way it is").
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any, Protocol

from models.storage.outbox import Tap

RECENT_IDS = 50_000


class Outbox(Protocol):
    """The outbox as its readers use it (`Services.outbox`, a `models.storage.outbox.OutboxStore`):
    the type transports name, which may not import storage."""

    local: bool  # only this process publishes (the embedded store): no polling for others

    def tap(self) -> Tap: ...

    def untap(self, tap: Tap) -> None: ...

    async def register_consumer(self, consumer: str) -> None: ...

    async def pending(self, consumer: str, limit: int = 100, after: Any = None) -> list[dict[str, Any]]: ...

    async def mark_done_many(self, consumer: str, event_ids: list[Any]) -> None: ...


class OutboxReader:
    def __init__(self, outbox: Outbox, consumer: str, batch: int = 200,
                 poll_seconds: float = 1.0) -> None:
        self._outbox = outbox
        self.consumer = consumer
        self._batch = batch
        self._poll = poll_seconds
        self._tap = outbox.tap()
        self._catch_up = True
        self._last_poll = 0.0
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._handed: set[str] = set()  # returned by next_batch, not done yet
        self._after: Any = None  # the catch-up's position: the last event id it read

    @property
    def in_flight(self) -> int:
        """Events handed out by `next_batch` and not done yet."""
        return len(self._handed)

    async def start(self) -> None:
        """Registers the consumer (registered consumers keep the outbox from pruning what they
        have not handled yet)."""
        await self._outbox.register_consumer(self.consumer)

    def close(self) -> None:
        self._outbox.untap(self._tap)

    def restart(self) -> None:
        """The next batch comes from the store (after a reconnect or a failure), from the first
        event not done: what was handed out and not done is handed out again."""
        self._catch_up = True
        self._after = None
        self._handed.clear()

    async def next_batch(self, wait: float) -> list[dict[str, Any]]:
        """Up to `batch` events not handled yet, waiting up to `wait` seconds for one; may be empty."""
        poll_due = not self._outbox.local and time.monotonic() - self._last_poll >= self._poll
        if self._catch_up or self._tap.missed or poll_due:
            self._tap.missed = False  # what it dropped is in the store, read now
            after = self._after if self._catch_up else None
            events = await self._outbox.pending(self.consumer, self._batch, after)
            self._last_poll = time.monotonic()
            self._catch_up = len(events) >= self._batch
            self._after = events[-1]["_id"] if self._catch_up else None
        else:
            timeout = wait if self._outbox.local else min(wait, self._poll)
            events = await self._from_tap(timeout)
        fresh = []
        for event in events:
            key = str(event.get("_id"))
            if key not in self._recent and key not in self._handed:
                self._handed.add(key)
                fresh.append(event)
        return fresh

    async def _from_tap(self, timeout: float) -> list[dict[str, Any]]:
        queue = self._tap.queue
        if queue.empty():
            try:
                first = await asyncio.wait_for(queue.get(), timeout)
            except asyncio.TimeoutError:
                return []
            events = [first]
        else:
            events = []
        while not queue.empty() and len(events) < self._batch:
            events.append(queue.get_nowait())
        return events

    async def done(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        for event in events:
            key = str(event["_id"])
            self._recent[key] = None
            self._handed.discard(key)
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        await self._outbox.mark_done_many(self.consumer, [e["_id"] for e in events])
