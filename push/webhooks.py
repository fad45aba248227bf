"""Webhook delivery: outbox events → `webhook_deliveries` → signed HTTP POSTs (docs/webhooks.md).

`WebhookFanout` reads the outbox as its own consumer (`webhooks`) and queues one delivery per
body and interested endpoint (`WebhookService.handle_events`); an event is marked done only once
its deliveries are stored, so a stop or a crash loses none (the outbox keeps what a registered
consumer has not done). `WebhookWorker`s claim ready deliveries with a lease and POST them
concurrently, off the request path:

- a 2xx answer: delivered (deleted);
- another answer, a connection error, a timeout (`webhooks.timeout_seconds` per attempt):
  retried with capped exponential backoff and jitter (at least the receiver's Retry-After), a dead
  letter after `webhooks.max_attempts`; redirects are not followed (a failed attempt);
- an address refused by the rules (models/webhooks.py: `refused_address`), looked up again at every
  attempt through the connector's resolver, so the connection only ever goes to an address that
  was checked: a dead letter at once (redeliverable from the admin API once fixed);
- the endpoint deleted: dropped; disabled: a dead letter.

Each request carries `Chatbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"{t}.{body}">`, `Chatbridge-Delivery` (the delivery id, the same on every attempt and on a
redelivery: receivers dedupe on it) and `Chatbridge-Event` (the type).
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import time
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from config.logging import request_id
from models.services.outbox import Outbox, OutboxReader
from models.services.webhooks import DeliveryClaim, WebhookService
from models.webhooks import (DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, WebhookDelivery,
                             is_ip_literal, signature_header)
from push.retry import backoff_delay, parse_retry_after

logger = logging.getLogger(__name__)

OUTBOX_CONSUMER = "webhooks"
FANOUT_BATCH = 200
USER_AGENT = "chatbridge-webhooks/1"


class RefusedAddress(OSError):
    """The endpoint's host is (or resolves to) an address the rules refuse."""


class CheckedResolver(AbstractResolver):
    """Resolves through the service (the system resolver unless a test gives another) and
    refuses the name when any of its addresses is refused: the connector then connects only to
    addresses that were checked, for this very attempt (no DNS cache)."""

    def __init__(self, service: WebhookService) -> None:
        self._service = service

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        try:
            addresses = await self._service.resolve(host, port)
        except asyncio.TimeoutError as exc:
            raise OSError(f"resolving {host} timed out") from exc
        if not addresses:
            raise OSError(f"{host} does not resolve")
        refused = [a for a in addresses if self._service.refused(a)]
        if refused:
            raise RefusedAddress(f"{host} resolves to a refused address ({refused[0]})")
        out: list[ResolveResult] = []
        for address in addresses:
            version = ipaddress.ip_address(address.split("%", 1)[0]).version
            out.append({"hostname": host, "host": address, "port": port,
                        "family": socket.AF_INET6 if version == 6 else socket.AF_INET,
                        "proto": 0, "flags": socket.AI_NUMERICHOST})
        return out

    async def close(self) -> None:
        return None


def _refusal(exc: BaseException) -> RefusedAddress | None:
    """The RefusedAddress behind an aiohttp connection error, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, RefusedAddress):
            return seen
        os_error = getattr(seen, "os_error", None)
        if isinstance(os_error, RefusedAddress):
            return os_error
        seen = seen.__cause__ or seen.__context__
    return None


class WebhookSender:
    """One aiohttp session for a process's webhook requests."""

    def __init__(self, service: WebhookService) -> None:
        self._service = service
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        settings = self._service.settings
        # No DNS cache and no kept-alive connections: every attempt resolves the name and
        # checks what it resolves to now (a name may be pointed at an internal address after it
        # was configured); a reused connection would skip that check.
        connector = aiohttp.TCPConnector(resolver=CheckedResolver(self._service),
                                         use_dns_cache=False, force_close=True,
                                         limit=settings.concurrency * 2,
                                         limit_per_host=settings.concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, float | None]:
        """POSTs once; the status and a Retry-After (seconds) if the answer gave one. Raises
        RefusedAddress, asyncio.TimeoutError, aiohttp.ClientError or OSError."""
        assert self._session is not None, "sender not started"
        host = (urlsplit(url).hostname or "").strip("[]")
        if is_ip_literal(host) and self._service.refused(host):  # the resolver is not asked then
            raise RefusedAddress(f"{host} is a refused address")
        async with self._session.post(url, data=body, headers=headers,
                                      allow_redirects=False) as response:
            return response.status, parse_retry_after(response.headers.get("Retry-After"))


class WebhookWorker:
    def __init__(self, service: WebhookService, sender: WebhookSender, name: str = "webhook-worker",
                 rng: random.Random | None = None) -> None:
        self._service = service
        self._sender = sender
        self._settings = service.settings
        self._metrics = service.metrics
        self.name = name
        self._rng = rng or random.Random()
        self._inflight = 0
        self._batches: set[asyncio.Task] = set()
        self._slot_freed = asyncio.Event()

    async def run_once(self, limit: int | None = None) -> int:
        """Claims one batch, delivers and settles it; returns how many were claimed."""
        claim = await self._service.claim(limit or self._settings.batch_size)
        if claim.deliveries:
            await self._process(claim)
        return len(claim.deliveries)

    async def _process(self, claim: DeliveryClaim) -> None:
        settled: set[str] = set()
        try:
            await asyncio.gather(*(self._deliver(claim.token, d, settled) for d in claim.deliveries))
        except asyncio.CancelledError:  # stopping: hand what was not settled back to the queue
            unsettled = [d.id for d in claim.deliveries if d.id not in settled]
            with contextlib.suppress(Exception):
                await asyncio.shield(self._service.release(claim, unsettled))
            raise

    async def _deliver(self, token: str, delivery: WebhookDelivery, settled: set[str]) -> None:
        try:
            await self._attempt(token, delivery)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease ends and the delivery comes back
            logger.exception("%s: settling delivery %s failed", self.name, delivery.id)
        settled.add(delivery.id)

    async def _attempt(self, token: str, delivery: WebhookDelivery) -> None:
        request_id.set(f"webhook:{delivery.id}")
        service = self._service
        hook = await service.endpoint(delivery.app_id, delivery.webhook_id)
        if hook is None:
            await service.drop(delivery, token)
            return
        if not hook.enabled:
            await service.bury(delivery, token, "endpoint disabled", None)
            return
        body = delivery.body.encode()
        stamp = int(time.time())
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: signature_header(hook.secrets(service.clock.now()), stamp, body),
                   DELIVERY_HEADER: delivery.id, EVENT_HEADER: delivery.event_type,
                   "Chatbridge-Attempt": str(delivery.attempts)}
        started = time.perf_counter()
        status: int | None = None
        retry_after: float | None = None
        try:
            async with asyncio.timeout(self._settings.timeout_seconds * 1.5):  # a hang, anyway
                status, retry_after = await self._sender.post(hook.url, headers, body)
        except RefusedAddress as exc:
            await self._refused(token, delivery, exc, started)
            return
        except asyncio.TimeoutError:
            self._metrics.attempt("timeout", time.perf_counter() - started)
            await self._retry(token, delivery, "timed out", None, None)
            return
        except (aiohttp.ClientError, OSError) as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                await self._refused(token, delivery, refusal, started)
                return
            self._metrics.attempt("failed", time.perf_counter() - started)
            await self._retry(token, delivery, f"connection error: {type(exc).__name__}", None,
                              None)
            return
        except Exception as exc:  # noqa: BLE001 - a bug here must not kill the worker
            logger.exception("%s: unexpected error delivering %s", self.name, delivery.id)
            self._metrics.attempt("failed", time.perf_counter() - started)
            await self._retry(token, delivery, f"internal error {type(exc).__name__}", None, None)
            return
        elapsed = time.perf_counter() - started
        if 200 <= status < 300:
            self._metrics.attempt("delivered", elapsed)
            await service.finish(delivery, token)
            logger.debug("%s: delivered %s (HTTP %d, %.3fs)", self.name, delivery.id, status, elapsed)
            return
        self._metrics.attempt("failed", elapsed)
        reason = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
        await self._retry(token, delivery, reason, status,
                          retry_after if status in (429, 503) else None)

    async def _refused(self, token: str, delivery: WebhookDelivery, exc: OSError,
                       started: float) -> None:
        self._metrics.attempt("refused", time.perf_counter() - started)
        logger.warning("%s: delivery %s refused: %s", self.name, delivery.id, exc)
        await self._service.bury(delivery, token, f"refused: {exc}", None)

    async def _retry(self, token: str, delivery: WebhookDelivery, error: str, status: int | None,
                     retry_after: float | None) -> None:
        s = self._settings
        delay = backoff_delay(delivery.attempts, s.backoff_base_seconds, s.backoff_max_seconds,
                              retry_after, self._rng)
        if await self._service.retry(delivery, token, delay, error, status):
            logger.info("%s: delivery %s failed (%s), attempt %d in %.1fs", self.name,
                        delivery.id, error, delivery.attempts + 1, delay)
        else:
            logger.warning("%s: delivery %s given up after %d attempts: %s", self.name,
                           delivery.id, delivery.attempts, error)

    async def run(self, stop: asyncio.Event) -> None:
        """Claims and delivers until `stop` is set; then gives the batches in flight a moment."""
        wakeup = self._service.subscribe()
        s = self._settings
        capacity = max(1, s.concurrency)
        try:
            while not stop.is_set():
                free = capacity - self._inflight
                if free <= 0:
                    self._slot_freed.clear()
                    await _wait_any(stop, self._slot_freed, timeout=s.poll_seconds)
                    continue
                try:
                    claim = await self._service.claim(min(s.batch_size, free))
                except Exception:  # noqa: BLE001 - the store may be briefly unavailable
                    logger.exception("%s: claiming deliveries failed", self.name)
                    await _wait_any(stop, timeout=s.poll_seconds)
                    continue
                if not claim.deliveries:
                    wakeup.clear()
                    await _wait_any(stop, wakeup, timeout=s.poll_seconds)
                    continue
                self._inflight += len(claim.deliveries)
                task = asyncio.create_task(self._run_batch(claim))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)
        finally:
            if self._batches:
                await asyncio.wait(set(self._batches), timeout=s.timeout_seconds * 2)
            for task in list(self._batches):
                task.cancel()
            if self._batches:
                await asyncio.gather(*self._batches, return_exceptions=True)

    async def _run_batch(self, claim: DeliveryClaim) -> None:
        try:
            await self._process(claim)
        finally:
            self._inflight -= len(claim.deliveries)
            self._slot_freed.set()


class WebhookFanout:
    """Outbox events → deliveries (the `webhooks` consumer of the outbox)."""

    def __init__(self, service: WebhookService, outbox: Outbox, poll_seconds: float) -> None:
        self._service = service
        self._poll = poll_seconds
        self._reader = OutboxReader(outbox, OUTBOX_CONSUMER, FANOUT_BATCH, poll_seconds)
        self._failures: dict[object, int] = {}

    async def start(self) -> None:
        await self._reader.start()

    def close(self) -> None:
        self._reader.close()

    async def run_once(self, wait: float = 0.0) -> int:
        """Queues the deliveries of the events not handled yet; returns how many events were
        handled. A failing batch is retried event by event; an event failing three times is
        skipped (logged)."""
        events = await self._reader.next_batch(wait)
        if not events:
            return 0
        try:
            await self._service.handle_events(events)
        except Exception:  # noqa: BLE001 - find the event that fails
            logger.exception("webhooks fan-out: a batch of %d events failed", len(events))
            handled = []
            for event in events:
                request_id.set(f"outbox:{event['_id']}")
                try:
                    await self._service.handle_events([event])
                except Exception:  # noqa: BLE001
                    failures = self._failures[event["_id"]] = self._failures.get(event["_id"], 0) + 1
                    if failures < 3:
                        logger.exception("webhooks fan-out: event %s failed (will retry)", event["_id"])
                        break
                    logger.exception("webhooks fan-out: event %s failed %d times, skipped",
                                     event["_id"], failures)
                self._failures.pop(event["_id"], None)
                handled.append(event)
            await self._reader.done(handled)
            if len(handled) < len(events):
                self._reader.restart()
            return len(handled)
        await self._reader.done(events)
        return len(events)

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            while not stop.is_set():
                try:
                    await self.run_once(wait=min(self._poll, 0.2))  # sees `stop` soon
                except Exception:  # noqa: BLE001
                    logger.exception("webhooks fan-out: reading the outbox failed")
                    self._reader.restart()
                    await _wait_any(stop, timeout=self._poll)
        finally:
            self.close()


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class WebhookRuntime:
    """The webhook part of a process: the fan-out and `workers` delivery loops."""

    def __init__(self, service: WebhookService, outbox: Outbox, *, workers: int | None = None,
                 fanout: bool = True) -> None:
        self._service = service
        self._outbox = outbox
        self._workers_count = service.settings.workers if workers is None else workers
        self._fanout = fanout
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.sender = WebhookSender(service)
        self.workers: list[WebhookWorker] = []

    async def start(self) -> None:
        self._stop.clear()
        await self.sender.start()
        if self._fanout:
            fanout = WebhookFanout(self._service, self._outbox, self._service.settings.poll_seconds)
            await fanout.start()  # registered before anything else runs: no event is missed
            self._tasks.append(asyncio.create_task(fanout.run(self._stop), name="webhook-fanout"))
        self.workers = [WebhookWorker(self._service, self.sender, name=f"webhook-worker-{i}")
                        for i in range(max(0, self._workers_count))]
        self._tasks += [asyncio.create_task(w.run(self._stop), name=w.name) for w in self.workers]
        logger.info("webhooks: %d delivery worker(s), fan-out %s", len(self.workers),
                    "on" if self._fanout else "off")

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.sender.close()
        logger.info("webhooks: stopped")

    async def __aenter__(self) -> "WebhookRuntime":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
