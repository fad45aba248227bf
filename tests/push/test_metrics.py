"""Push metrics: jobs queued, sent, retried and dead per provider and the send latency, served by
the push worker's own /metrics listener (chatbridge/wiring.py: metrics_part)."""
from __future__ import annotations

import socket

import aiohttp
from pydantic import SecretStr
from prometheus_client.parser import text_string_to_metric_families

from chatbridge.wiring import metrics_part

TOKEN = "a1" * 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def _scrape(url: str, headers: dict | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers or {}) as resp:
            return resp.status, await resp.text()


async def test_push_counters_move_and_the_worker_serves_them(env, services, apns, clock):
    owner = await env.user("Owner")
    members = []
    for i in range(3):
        uid = await env.user(f"U{i}")
        await env.subscribe_web(uid, f"browser-{i}")
        members.append(uid)
    apns_user = await env.user("Ios")
    await env.subscribe_apns(apns_user, TOKEN, "phone")
    dialog = await env.dialog(owner, [owner, *members, apns_user], type=2, name="Team")
    apns.script = [(503, {"reason": "ServiceUnavailable"})]  # one retry, then sent
    await env.message(dialog, owner, "standup in 5")
    await env.drain()
    clock.advance(60)
    await env.worker().run_once()

    port = _free_port()
    settings = services.settings.model_copy(update={"metrics": services.settings.metrics.model_copy(
        update={"push_worker_port": port})})
    services.settings = settings
    async with metrics_part(services, None):
        status, text = await _scrape(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        samples = _samples(text)
        assert samples[("chatbridge_push_jobs_queued_total", (("provider", "webpush"),))] == 3
        assert samples[("chatbridge_push_jobs_queued_total", (("provider", "apns"),))] == 1
        assert samples[("chatbridge_push_jobs_sent_total", (("provider", "webpush"),))] == 3
        assert samples[("chatbridge_push_jobs_sent_total", (("provider", "apns"),))] == 1
        assert samples[("chatbridge_push_jobs_retried_total", (("provider", "apns"),))] == 1
        assert samples[("chatbridge_push_send_seconds_count", (("provider", "apns"),))] == 2
        assert samples[("chatbridge_push_send_seconds_count", (("provider", "webpush"),))] == 3
        assert samples[("chatbridge_push_queue_jobs", (("state", "pending"),))] == 0
        assert ("process_cpu_seconds_total", ()) in samples
        # the worker's listener has no REST API
        status, _ = await _scrape(f"http://127.0.0.1:{port}/health")
        assert status == 404


async def test_dead_jobs_are_counted(env, services, apns):
    owner = await env.user("Owner")
    phone = await env.user("Ios")
    await env.subscribe_apns(phone, TOKEN, "phone")
    dialog = await env.dialog(owner, [owner, phone])
    apns.script = [(413, {"reason": "PayloadTooLarge"})]
    await env.message(dialog, owner, "hi")
    await env.drain()
    samples = _samples((await _registry_text(services)))
    assert samples[("chatbridge_push_jobs_dead_total", (("provider", "apns"),))] == 1
    assert ("chatbridge_push_jobs_sent_total", (("provider", "apns"),)) not in samples
    assert samples[("chatbridge_push_queue_jobs", (("state", "dead"),))] == 1


async def test_the_worker_listener_keeps_to_its_networks_and_token(env, services):
    port = _free_port()
    metrics = services.settings.metrics.model_copy(update={
        "push_worker_port": port, "allowed_networks": ["10.0.0.0/8"]})
    services.settings = services.settings.model_copy(update={"metrics": metrics})
    async with metrics_part(services, None):
        status, _ = await _scrape(f"http://127.0.0.1:{port}/metrics")
        assert status == 403
    services.settings = services.settings.model_copy(update={"metrics": metrics.model_copy(
        update={"token": SecretStr("s3cret")})})
    async with metrics_part(services, None):
        assert (await _scrape(f"http://127.0.0.1:{port}/metrics"))[0] == 401
        assert (await _scrape(f"http://127.0.0.1:{port}/metrics",
                              {"Authorization": "Bearer wrong"}))[0] == 401
        status, text = await _scrape(f"http://127.0.0.1:{port}/metrics",
                                     {"Authorization": "Bearer s3cret"})
        assert status == 200 and "chatbridge_push_jobs_sent" in text


async def _registry_text(services) -> str:
    from prometheus_client import generate_latest

    await services.metrics.refresh()
    return generate_latest(services.metrics.registry).decode()
