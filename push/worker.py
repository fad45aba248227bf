"""Push workers: drain the `push_jobs` queue through the provider senders.

A worker claims a batch of ready jobs (a lease: see models/storage/push_jobs.py), sends them
concurrently, then settles each one:

- delivered, or dropped on purpose (token rejected, provider not configured): deleted with its
  batch;
- TemporaryPushError, timeout or a surprise: rescheduled with capped exponential backoff and
  jitter (at least the provider's Retry-After), or dead-lettered once past its expiry;
- PermanentPushError (payload too large, credentials): dead-lettered at once, logged as an error;
- TokenRejected: that one subscription is deleted.

Several workers, in this process or others, share the queue safely. `PushRuntime` runs the
workers of one process plus, where presence is known, the fan-out that turns `message_created`
outbox events into jobs.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field

from config.logging import request_id
from config.settings import PushSettings
from models.push import PushJob
from models.services.outbox import Outbox, OutboxReader
from models.services.push import Claim, PushService
from push.errors import PermanentPushError, PushError, TemporaryPushError, TokenRejected
from push.retry import backoff_delay
from push.senders import close_senders, start_senders
from push.senders.base import Sender

logger = logging.getLogger(__name__)

OUTBOX_CONSUMER = "push"
FANOUT_BATCH = 200


@dataclass
class WorkerStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    rejected: int = 0
    discarded: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class PushWorker:
    def __init__(self, push: PushService, senders: dict[str, Sender], settings: PushSettings,
                 name: str = "push-worker", rng: random.Random | None = None) -> None:
        self._push = push
        self._senders = senders
        self._settings = settings
        self.name = name
        self._rng = rng or random.Random()
        self.stats = WorkerStats()
        self._metrics = push.metrics  # the process's push counters (models/metrics.py)
        self._warned: set[str] = set()
        self._inflight = 0
        self._batches: set[asyncio.Task] = set()
        self._slot_freed = asyncio.Event()

    # -- one batch ---------------------------------------------------------------------------------
    async def run_once(self, limit: int | None = None) -> int:
        """Claims one batch, delivers it and settles it. Returns the number of jobs claimed."""
        claim = await self._push.claim(limit or self._settings.batch_size)
        if claim.jobs:
            await self._process(claim)
        return len(claim.jobs)

    async def _process(self, claim: Claim) -> None:
        done: list[str] = []  # finished jobs, deleted with the batch
        try:
            await asyncio.gather(*(self._deliver(claim.token, job, done) for job in claim.jobs))
            await self._push.finish(claim)
        except asyncio.CancelledError:
            # stopping: keep what was delivered, hand the rest back to the queue
            with contextlib.suppress(Exception):
                await asyncio.shield(self._settle_cancelled(claim, done))
            raise

    async def _settle_cancelled(self, claim: Claim, done: list[str]) -> None:
        await self._push.finish(claim, done)
        released = await self._push.release(claim)
        if released:
            logger.info("%s: released %d unsent jobs back to the queue", self.name, released)

    async def _deliver(self, token: str, job: PushJob, done: list[str]) -> None:
        """Sends one job and settles it, except for the final delete done per batch."""
        if await self._attempt(token, job):
            done.append(job.id)

    async def _attempt(self, token: str, job: PushJob) -> bool:
        """True when the job is finished (delivered or dropped): its deletion is due with the
        batch. Retried and dead jobs are settled here."""
        request_id.set(f"push:{job.id}")
        if self._push.is_expired(job):
            await self._push.bury(job, token, f"expired before delivery ({job.last_error or 'not sent'})")
            self.stats.dead += 1
            return False
        sender = self._senders.get(job.channel)
        if sender is None:
            if job.channel not in self._warned:
                self._warned.add(job.channel)
                logger.warning("%s: no sender for channel %s: its jobs are discarded", self.name,
                               job.channel)
            self.stats.discarded += 1
            self._metrics.discarded(job.channel)
            return True
        started = time.perf_counter()
        try:
            # the senders time their own I/O out; this only catches a sender that hangs anyway
            async with asyncio.timeout(self._settings.send_timeout_seconds * 1.5):
                await sender.send(job)
        except TokenRejected as exc:
            self._metrics.send_time(job.channel, time.perf_counter() - started)
            pruned = await self._push.reject_target(job)
            self.stats.rejected += 1
            self._metrics.rejected(job.channel)
            logger.info("%s: %s rejected the token of subscription %s (%s)%s", self.name,
                        sender.name, job.subscription_id, exc.describe(),
                        ": subscription deleted" if pruned else "")
            return True
        except PermanentPushError as exc:
            self._metrics.send_time(job.channel, time.perf_counter() - started)
            await self._push.bury(job, token, f"{sender.name}: {exc.describe()}")
            self.stats.dead += 1
            logger.error("%s: %s refused job %s for subscription %s permanently: %s", self.name,
                         sender.name, job.id, job.subscription_id, exc.describe())
            return False
        except TemporaryPushError as exc:
            self._metrics.send_time(job.channel, time.perf_counter() - started)
            await self._retry(job, token, f"{sender.name}: {exc.describe()}", exc.retry_after)
            return False
        except asyncio.TimeoutError:
            await self._retry(job, token, f"{sender.name}: timed out", None)
            return False
        except PushError as exc:  # pragma: no cover - every PushError is one of the above
            await self._retry(job, token, f"{sender.name}: {exc.describe()}", None)
            return False
        except Exception as exc:  # noqa: BLE001 - a sender bug must not kill the worker
            logger.exception("%s: unexpected error sending job %s", self.name, job.id)
            await self._retry(job, token, f"{sender.name}: internal error {type(exc).__name__}", None)
            return False
        self._metrics.send_time(job.channel, time.perf_counter() - started)
        self._metrics.sent(job.channel)
        self.stats.sent += 1
        self.stats.by_channel[job.channel] = self.stats.by_channel.get(job.channel, 0) + 1
        return True

    async def _retry(self, job: PushJob, token: str, error: str, retry_after: float | None) -> None:
        s = self._settings
        delay = backoff_delay(job.attempts, s.backoff_base_seconds, s.backoff_max_seconds,
                              retry_after, self._rng)
        if await self._push.retry(job, token, delay, error):
            self.stats.retried += 1
            logger.info("%s: job %s failed (%s), try %d again in %.1fs", self.name, job.id, error,
                        job.attempts + 1, delay)
        else:
            self.stats.dead += 1
            logger.warning("%s: job %s given up after %d attempts: %s", self.name, job.id,
                           job.attempts, error)

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claims and delivers until `stop` is set; then waits for the batches in flight."""
        wakeup = self._push.subscribe()
        capacity = max(1, self._settings.concurrency)
        try:
            while not stop.is_set():
                free = capacity - self._inflight
                if free < min(self._settings.batch_size, capacity) / 4:
                    self._slot_freed.clear()
                    await _wait_any(stop, self._slot_freed, timeout=self._settings.poll_seconds)
                    continue
                try:
                    claim = await self._push.claim(min(self._settings.batch_size, free))
                except Exception:  # noqa: BLE001 - the store may be briefly unavailable
                    logger.exception("%s: claiming jobs failed", self.name)
                    await _wait_any(stop, timeout=self._settings.poll_seconds)
                    continue
                if not claim.jobs:
                    wakeup.clear()
                    await _wait_any(stop, wakeup, timeout=self._settings.poll_seconds)
                    continue
                self._inflight += len(claim.jobs)
                task = asyncio.create_task(self._run_batch(claim))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)
        finally:
            if self._batches:
                await asyncio.wait(set(self._batches), timeout=self._settings.send_timeout_seconds * 2)
            for task in list(self._batches):
                task.cancel()
            if self._batches:
                await asyncio.gather(*self._batches, return_exceptions=True)

    async def _run_batch(self, claim: Claim) -> None:
        try:
            await self._process(claim)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the leases expire and the jobs come back
            logger.exception("%s: settling a batch failed", self.name)
        finally:
            self._inflight -= len(claim.jobs)
            self._slot_freed.set()


class OutboxFanout:
    """Turns outbox events (`message_created`, `user_deleted`) into push jobs."""

    def __init__(self, push: PushService, outbox: Outbox, poll_seconds: float) -> None:
        self._push = push
        self._poll = poll_seconds
        self._reader = OutboxReader(outbox, OUTBOX_CONSUMER, FANOUT_BATCH, poll_seconds)
        self._failures: dict[object, int] = {}

    async def run_once(self, wait: float = 0.0) -> int:
        """Handles the events not handled yet (waiting up to `wait` seconds for one); returns how
        many were handled. A failing event stops the batch; it is retried (from the store) on the
        next pass, up to three times."""
        events = await self._reader.next_batch(wait)
        handled: list[dict] = []
        try:
            known = await self._push.prefetch(events) if len(events) > 1 else None
            for event in events:
                request_id.set(f"outbox:{event['_id']}")
                try:
                    await self._push.handle_event(event, known)
                except Exception:  # noqa: BLE001 - retried on the next pass, a few times
                    failures = self._failures.get(event["_id"], 0) + 1
                    self._failures[event["_id"]] = failures
                    if failures < 3:
                        logger.exception("push fan-out: event %s failed (will retry)", event["_id"])
                        self._reader.restart()
                        return len(handled)
                    logger.exception("push fan-out: event %s failed %d times, skipped",
                                     event["_id"], failures)
                self._failures.pop(event["_id"], None)
                handled.append(event)
        finally:
            await self._reader.done(handled)
        return len(handled)

    async def run(self, stop: asyncio.Event) -> None:
        await self._reader.start()
        try:
            while not stop.is_set():
                try:
                    await self.run_once(wait=min(self._poll, 0.2))  # sees `stop` soon
                except Exception:  # noqa: BLE001
                    logger.exception("push fan-out: reading the outbox failed")
                    self._reader.restart()
                    await _wait_any(stop, timeout=self._poll)
        finally:
            self._reader.close()


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class PushRuntime:
    """The push part of one process: senders, `workers` worker loops and optionally the fan-out."""

    def __init__(self, push: PushService, outbox: Outbox, settings: PushSettings, *,
                 workers: int | None = None, fanout: bool | None = None,
                 webpush_key: str | None = None) -> None:
        self._push = push
        self._webpush_key = webpush_key  # the store's VAPID key when the settings give none
        self._outbox = outbox
        self._settings = settings
        self._workers_count = settings.workers if workers is None else workers
        self._fanout = settings.fanout if fanout is None else fanout
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.senders: dict[str, Sender] = {}
        self.workers: list[PushWorker] = []

    async def start(self) -> None:
        self.senders = await start_senders(self._settings, self._webpush_key)
        self.workers = [PushWorker(self._push, self.senders, self._settings, name=f"push-worker-{i}")
                        for i in range(max(0, self._workers_count))]
        self._tasks = [asyncio.create_task(w.run(self._stop), name=w.name) for w in self.workers]
        if self._fanout:
            fanout = OutboxFanout(self._push, self._outbox, self._settings.poll_seconds)
            self._tasks.append(asyncio.create_task(fanout.run(self._stop), name="push-fanout"))
        logger.info("push: %d worker(s), channels %s, fan-out %s", len(self.workers),
                    ",".join(sorted(self.senders)) or "none", "on" if self._fanout else "off")

    async def stop(self) -> None:
        self._stop.set()
        started = time.monotonic()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await close_senders(self.senders)
        logger.info("push: stopped in %.1fs", time.monotonic() - started)

    async def __aenter__(self) -> "PushRuntime":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
