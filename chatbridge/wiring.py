"""The composition root: builds the services once and starts the parts a process runs.

`chatbridge serve` runs REST + the XMPP bridge + a push worker in one process (the embedded
default); `chatbridge push-worker` and friends run one part alone, built by the same functions.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Callable

from aiohttp import web

from chatbridge.background import running
from chatbridge.gc_policy import gc_freezer
from config.settings import Settings
from models.services.container import Services, build_services
from models.storage.mongo import open_database
from rest.app import create_app
from rest.metrics import create_metrics_app
from rest.server import ApiRunner
from push.worker import PushRuntime
from push.webhooks import WebhookRuntime
from bridge.app import create_bridge
from rest.views.health import HEALTH_CHECKS

logger = logging.getLogger(__name__)

# Each part is an async context: started in order, stopped in reverse.
Part = Callable[[Services, web.Application | None], contextlib.AbstractAsyncContextManager]


async def build(settings: Settings) -> Services:
    database = open_database(settings.mongo)
    services = build_services(settings, database)
    await services.start()
    logger.info("store ready: %s, database %s", database.kind, settings.mongo.database)
    return services


@contextlib.asynccontextmanager
async def http_part(services: Services, app: web.Application):
    # in-flight requests get 5 s to finish on shutdown (aiohttp waits 60 s by default)
    runner = ApiRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, services.settings.http.host, services.settings.http.port,
                       reuse_address=True)
    await site.start()
    logger.info("REST API listening on http://%s:%s", services.settings.http.host,
                services.settings.http.port)
    try:
        yield
    finally:
        await runner.cleanup()


async def run_until_signal(settings: Settings, parts: list[Part], with_http: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    services = await build(settings)
    app = create_app(services) if with_http else None
    async with contextlib.AsyncExitStack() as stack:
        for part in parts:
            await stack.enter_async_context(part(services, app))
        if app is not None:
            await stack.enter_async_context(http_part(services, app))
        logger.info("chatbridge is running; stop with Ctrl-C or SIGTERM")
        await stop.wait()
        logger.info("stopping")
    services.database.close()


@contextlib.asynccontextmanager
async def maintenance_part(services: Services, app: web.Application | None, interval: float = 30.0):
    """Runs `Services.maintain` every `interval` seconds in the background."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await services.maintain()
            except Exception:  # noqa: BLE001 - housekeeping must never stop the process
                logger.exception("maintenance pass failed")

    async with running(loop, "maintenance"):
        yield


@contextlib.asynccontextmanager
async def gc_part(services: Services, app: web.Application | None):
    """The garbage-collector policy (chatbridge/gc_policy.py), started once everything is built."""
    async with gc_freezer(services.settings.gc_freeze_seconds, services.settings.gc_thaw_seconds):
        yield


def push_part(workers: int | None = None, fanout: bool | None = None) -> Part:
    """The push worker(s) of a process: `chatbridge serve` runs it per `push.enabled`,
    `chatbridge push-worker` always (with its own worker count and fan-out choice)."""

    @contextlib.asynccontextmanager
    async def part(services: Services, app: web.Application | None):
        if workers is None and not services.settings.push.enabled:
            logger.info("push worker disabled (push.enabled is false)")
            yield
            return
        async with PushRuntime(services.push, services.outbox, services.settings.push,
                               workers=workers, fanout=fanout, webpush_key=services.webpush_key):
            yield

    return part


def webhooks_part(workers: int | None = None, fanout: bool = True) -> Part:
    """Webhook delivery (push/webhooks.py): `chatbridge serve` runs it per `webhooks.enabled`,
    `chatbridge webhook-worker` always (its own worker count; fan-out optional)."""

    @contextlib.asynccontextmanager
    async def part(services: Services, app: web.Application | None):
        if workers is None and not services.settings.webhooks.enabled:
            logger.info("webhooks disabled (webhooks.enabled is false)")
            yield
            return
        async with WebhookRuntime(services.webhooks, services.outbox, workers=workers,
                                  fanout=fanout):
            yield

    return part


@contextlib.asynccontextmanager
async def bridge_part(services: Services, app: web.Application | None):
    """The XMPP bridge (embedded Prosody unless xmpp.embedded is false, component, relay); its
    status is reported by GET /health under "xmpp"."""
    if not services.settings.xmpp.enabled:
        logger.info("XMPP bridge disabled (xmpp.enabled is false)")
        yield
        return
    bridge = create_bridge(services)
    await bridge.start()
    if app is not None:
        if HEALTH_CHECKS not in app:
            app[HEALTH_CHECKS] = {}
        app[HEALTH_CHECKS]["xmpp"] = bridge.health
    try:
        yield
    finally:
        await bridge.stop()


@contextlib.asynccontextmanager
async def metrics_part(services: Services, app: web.Application | None):
    """A `/metrics` listener of its own (rest/metrics.py) for a process without the REST API
    (`chatbridge push-worker`), on `metrics.push_worker_host:push_worker_port`; port 0 = none."""
    config = services.settings.metrics
    if not config.enabled or not config.push_worker_port:
        yield
        return
    runner = web.AppRunner(create_metrics_app(services.metrics, services.settings),
                           access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, config.push_worker_host, config.push_worker_port, reuse_address=True)
    await site.start()
    logger.info("metrics on http://%s:%s/metrics", config.push_worker_host, config.push_worker_port)
    try:
        yield
    finally:
        await runner.cleanup()


def serve_parts() -> list[Part]:
    """The parts `chatbridge serve` runs, in start order (stopped in reverse; the REST
    listener starts after all of them and stops first)."""
    return [maintenance_part, push_part(), webhooks_part(), bridge_part, gc_part]


def serve(settings: Settings) -> None:
    asyncio.run(run_until_signal(settings, serve_parts(), with_http=True))


def push_worker(settings: Settings, workers: int | None, fanout: bool) -> None:
    asyncio.run(run_until_signal(settings, [push_part(workers, fanout), metrics_part],
                                 with_http=False))


def webhook_worker(settings: Settings, workers: int | None, fanout: bool) -> None:
    asyncio.run(run_until_signal(settings, [webhooks_part(workers, fanout), metrics_part],
                                 with_http=False))



async def stored_webpush_key(settings: Settings, rotate: bool) -> str:
    """The WebPush key kept in the MongoDB store (PEM), created if missing or replaced when
    `rotate` (`chatbridge vapid-keys`)."""
    database = open_database(settings.mongo)
    try:
        services = build_services(settings, database)
        keys = services.webpush_keys()
        return await keys.rotate() if rotate else await keys.shared() or await keys.rotate()
    finally:
        database.close()


async def operator_services(settings: Settings) -> Services:
    """The services on the MongoDB store of the settings, for one `chatbridge apps|users|export`
    command (no start-up work: the serving processes own that); close with `database.close()`."""
    return build_services(settings, open_database(settings.mongo))


async def check_store(settings: Settings) -> str | None:
    """Why the store of the settings does not answer a ping (`chatbridge doctor`), or None."""
    database = open_database(settings.mongo)
    try:
        await asyncio.wait_for(database._ping(), settings.mongo.timeout_ms / 1000 + 1)
        return None
    except Exception as exc:  # noqa: BLE001 - said to the operator, not raised
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    finally:
        database.close()
