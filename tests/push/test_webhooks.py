"""Webhook delivery (push/webhooks.py) against a real receiver on loopback: signatures, retries
after 500s and timeouts, dead letters and redelivery, at-least-once across a restart of the
delivery part, addresses refused at delivery time (DNS), redirects not followed."""
from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from config.settings import Settings
from models.events import Event
from models.requester import admin
from models.services.webhooks import WebhookService
from models.storage.counters import CounterStore
from models.storage.webhooks import WebhookDeliveryStore, WebhookStore
from models.webhooks import WebhookChanges, WebhookDraft
from push.webhooks import WebhookFanout, WebhookRuntime, WebhookSender, WebhookWorker
from tests.conftest import AUTH_KEY
from tests.push.webhook_receiver import Receiver

APP = admin(1)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        app={"id": 1, "auth_key": SecretStr(AUTH_KEY), "auth_secret": SecretStr("s")},
        blobs={"path": tmp_path / "blobs"}, data_dir=tmp_path,
        xmpp={"auth_user": "prosody", "auth_password": SecretStr("xmpp-secret")},
        webhooks={"allow_http": True, "allowed_networks": ["127.0.0.1/32"], "timeout_seconds": 0.5,
                  "max_attempts": 3, "backoff_base_seconds": 10, "poll_seconds": 0.05})


@pytest.fixture
async def receiver():
    fake = Receiver()
    await fake.start()
    yield fake
    await fake.close()


class Delivery:
    """The fan-out and one worker of a service, driven step by step."""

    def __init__(self, service: WebhookService, outbox) -> None:
        self.fanout = WebhookFanout(service, outbox, 0.05)
        self.sender = WebhookSender(service)
        self.worker = WebhookWorker(service, self.sender, rng=random.Random(1))

    async def __aenter__(self) -> "Delivery":
        await self.fanout.start()
        await self.sender.start()
        return self

    async def __aexit__(self, *exc) -> None:
        self.fanout.close()
        await self.sender.close()

    async def step(self) -> int:
        await self.fanout.run_once()
        return await self.worker.run_once()


async def hook(services, receiver, events=("*",), app=APP, url=None) -> int:
    shown = await services.webhooks.create(app, WebhookDraft(url=url or receiver.url(),
                                                             events=tuple(events)))
    receiver.secrets.append(shown.secret)
    return shown.webhook.id


def message_event(app_id: int = 1, text: str = "hi", dialog: str = "6650c0ffee0000000000abcd") -> Event:
    return Event(kind="message_created", app_id=app_id, dialog_id=dialog, sender_id=7,
                 recipient_ids=[8], payload={"message": {"_id": "6650c0ffee0000000000beef",
                                                         "chat_dialog_id": dialog, "message": text,
                                                         "sender_id": 7, "date_sent": 1767225600},
                                             "dialog_type": 2})


async def dead_letters(services, webhook_id):
    return (await services.webhooks.deliveries(APP, webhook_id, "dead", 0, 100)).items


async def pending(services, webhook_id):
    return (await services.webhooks.deliveries(APP, webhook_id, "pending", 0, 100)).items


async def test_a_rest_message_reaches_the_endpoint_signed(services, receiver, api):
    await hook(services, receiver, ["message_created"])
    alice, bob = await api.new_user("whalice"), await api.new_user("whbob")
    async with Delivery(services.webhooks, services.outbox) as delivery:
        status, dialog = await api.call("POST", "/chat/Dialog.json", alice["token"],
                                        json={"type": 3, "occupants_ids": [bob["id"]]})
        status, message = await api.call("POST", "/chat/Message.json", alice["token"], json={
            "chat_dialog_id": dialog["_id"], "message": "hello hooks", "send_to_chat": 1})
        assert status == 201
        assert await delivery.step() == 1
    [got] = receiver.received
    assert got["valid"] and got["event"] == "message_created"
    assert got["content_type"] == "application/json"
    body = got["body"]
    assert body["type"] == "message_created" and body["app_id"] == 1
    assert body["id"] in got["delivery"] and isinstance(body["created_at"], int)
    data = body["data"]
    assert (data["dialog_id"], data["dialog_type"], data["sender_id"]) == (dialog["_id"], 3, alice["id"])
    assert data["message"]["_id"] == message["_id"] and data["message"]["message"] == "hello hooks"
    assert got["signature"].startswith("t=") and got["signature"].count("v1=") == 1
    assert await pending(services, 1) == []
    # a receiver with another secret would refuse it
    receiver.secrets = ["whsec_wrong"]
    assert not receiver.valid()


async def test_types_the_endpoint_did_not_ask_for_are_not_sent(services, receiver):
    await hook(services, receiver, ["dialog_created", "user_deleted"])
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        await services.publisher.publish(Event(kind="user_deleted", app_id=1, sender_id=9))
        await services.publisher.publish(Event(kind="user_deleted", app_id=2, sender_id=10))
        assert await delivery.step() == 1
    assert [(r["event"], r["body"]["data"]) for r in receiver.received] == [
        ("user_deleted", {"user_id": 9})]


async def test_a_500_is_retried_later_with_backoff_and_the_same_delivery_id(services, receiver, clock):
    webhook_id = await hook(services, receiver)
    receiver.script = [500]
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        assert await delivery.step() == 1
        [waiting] = await pending(services, webhook_id)
        assert (waiting.attempts, waiting.last_status, waiting.last_error) == (1, 500, "HTTP 500")
        delay = (waiting.due_at.replace(tzinfo=clock.now().tzinfo) - clock.now()).total_seconds()
        assert 5 <= delay <= 10  # base 10 s, equal jitter: half fixed, half random
        assert await delivery.worker.run_once() == 0  # not due yet
        clock.advance(10)
        assert await delivery.worker.run_once() == 1
    assert [r["valid"] for r in receiver.received] == [True, True]
    assert receiver.received[0]["delivery"] == receiver.received[1]["delivery"]
    assert await pending(services, webhook_id) == [] and await dead_letters(services, webhook_id) == []
    assert services.metrics.webhooks.count("failed") == 1
    assert services.metrics.webhooks.count("delivered") == 1
    await services.metrics.refresh()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(
                   generate_latest(services.metrics.registry).decode())
               for s in family.samples}
    assert samples[("chatbridge_webhook_deliveries_total", (("result", "failed"),))] == 1
    assert samples[("chatbridge_webhook_deliveries_total", (("result", "delivered"),))] == 1
    assert samples[("chatbridge_webhook_delivery_seconds_count", (("result", "delivered"),))] == 1
    assert samples[("chatbridge_webhook_deliveries_queued_total", ())] == 1
    assert samples[("chatbridge_webhook_dead_letters_total", ())] == 0
    assert samples[("chatbridge_webhook_queue_deliveries", (("state", "pending"),))] == 0
    assert samples[("chatbridge_outbox_pending_events", (("consumer", "webhooks"),))] == 0


async def test_a_timeout_is_retried(services, receiver, clock):
    webhook_id = await hook(services, receiver)
    receiver.script = ["hang"]
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        started = asyncio.get_running_loop().time()
        assert await delivery.step() == 1
        assert asyncio.get_running_loop().time() - started < 2  # the 0.5 s attempt timeout
        [waiting] = await pending(services, webhook_id)
        assert waiting.last_error == "timed out" and waiting.attempts == 1
        clock.advance(10)
        assert await delivery.worker.run_once() == 1
    assert len(receiver.received) == 2 and await pending(services, webhook_id) == []
    assert services.metrics.webhooks.count("timeout") == 1


async def test_dead_letter_after_max_attempts_then_redelivered(services, receiver, clock):
    webhook_id = await hook(services, receiver)
    receiver.script = [500, 503, 502]
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        await delivery.step()
        for _ in range(2):
            clock.advance(3600)
            assert await delivery.worker.run_once() == 1
        clock.advance(3600)
        assert await delivery.worker.run_once() == 0  # given up: nothing left to claim
        [dead] = await dead_letters(services, webhook_id)
        assert dead.attempts == 3 and dead.last_status == 502
        assert dead.last_error.startswith("gave up after 3 attempts")
        assert services.metrics.webhooks.dead_count == 1
        again = await services.webhooks.redeliver(APP, webhook_id, dead.id)
        assert (again.state, again.attempts) == ("pending", 0)
        assert await delivery.worker.run_once() == 1
    assert len(receiver.received) == 4 and len({r["delivery"] for r in receiver.received}) == 1
    assert await dead_letters(services, webhook_id) == [] and await pending(services, webhook_id) == []


async def test_events_published_while_delivery_is_stopped_are_delivered_after_a_restart(
        services, receiver):
    await hook(services, receiver, ["user_deleted"])
    runtime = WebhookRuntime(services.webhooks, services.outbox)
    await runtime.start()
    await services.publisher.publish(Event(kind="user_deleted", app_id=1, sender_id=1))
    await _until(lambda: len(receiver.received) == 1)
    await runtime.stop()
    for uid in (2, 3):  # nobody reads the outbox now
        await services.publisher.publish(Event(kind="user_deleted", app_id=1, sender_id=uid))
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 1
    runtime = WebhookRuntime(services.webhooks, services.outbox)
    async with runtime:
        await _until(lambda: len(receiver.received) == 3)
    assert sorted(r["body"]["data"]["user_id"] for r in receiver.received) == [1, 2, 3]


async def test_a_delivery_claimed_by_a_worker_that_died_comes_back_after_its_lease(
        services, receiver, clock):
    webhook_id = await hook(services, receiver)
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        await delivery.fanout.run_once()
        lost = await services.webhooks.claim(10)  # a worker claims it and dies before sending
        assert len(lost.deliveries) == 1
        assert await delivery.worker.run_once() == 0
        clock.advance(services.settings.webhooks.lease_seconds + 1)
        assert await delivery.worker.run_once() == 1
    assert len(receiver.valid()) == 1 and await pending(services, webhook_id) == []


async def test_redirects_are_not_followed(services, receiver, clock):
    webhook_id = await hook(services, receiver)
    receiver.script = [("redirect", receiver.url("/elsewhere"))]
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        await delivery.step()
    [waiting] = await pending(services, webhook_id)
    assert waiting.last_status == 302 and "redirects are not followed" in waiting.last_error
    assert receiver.other_hits == 0


async def test_a_disabled_endpoint_gets_nothing_new_and_a_deleted_one_loses_its_queue(
        services, receiver, clock):
    webhook_id = await hook(services, receiver)
    async with Delivery(services.webhooks, services.outbox) as delivery:
        await services.webhooks.update(APP, webhook_id, WebhookChanges(enabled=False))
        await services.publisher.publish(message_event())
        await delivery.step()
        assert receiver.received == [] and await pending(services, webhook_id) == []
        await services.webhooks.update(APP, webhook_id, WebhookChanges(enabled=True))
        receiver.script = [500]
        await services.publisher.publish(message_event(text="second"))
        await delivery.step()
        assert len(await pending(services, webhook_id)) == 1
        await services.webhooks.delete(APP, webhook_id)
        clock.advance(3600)
        assert await delivery.worker.run_once() == 0
    assert len(receiver.received) == 1


async def test_a_rotation_with_grace_signs_with_both_secrets(services, receiver):
    webhook_id = await hook(services, receiver)
    old = receiver.secrets[0]
    rotated = await services.webhooks.rotate_secret(APP, webhook_id, keep_previous_seconds=600)
    assert rotated.secret != old
    async with Delivery(services.webhooks, services.outbox) as delivery:
        receiver.secrets = [old]
        await services.publisher.publish(message_event())
        await delivery.step()
        receiver.secrets = [rotated.secret]
        assert receiver.valid() and receiver.received[0]["signature"].count("v1=") == 2
        now = await services.webhooks.rotate_secret(APP, webhook_id)  # no grace: old ones stop
        await services.publisher.publish(message_event(text="2"))
        await delivery.step()
    assert receiver.received[1]["signature"].count("v1=") == 1
    receiver.secrets = [rotated.secret, old]
    assert len(receiver.valid()) == 1  # the second is signed with `now.secret` only
    receiver.secrets = [now.secret]
    assert len(receiver.valid()) == 1


async def test_an_address_refused_at_delivery_time_after_dns_changed(services, receiver, settings):
    """The name resolved to an allowed address when configured; at delivery it resolves to one
    that is refused (DNS rebinding): no request is made, the delivery is a dead letter."""
    answers = {"hooks.test": ["127.0.0.1"]}

    async def resolve(host, port):
        if host not in answers:
            raise OSError("no such name")
        return answers[host]

    db = services.database.db
    service = WebhookService(WebhookStore(db), WebhookDeliveryStore(db), CounterStore(db),
                             services.clock, settings.webhooks, resolve=resolve)
    shown = await service.create(APP, WebhookDraft(url=receiver.url(host="hooks.test"),
                                                   events=("*",)))
    receiver.secrets.append(shown.secret)
    async with Delivery(service, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        assert await delivery.step() == 1
        assert len(receiver.valid()) == 1  # the name was resolved by our resolver, and connected
        answers["hooks.test"] = ["127.0.0.1", "10.1.2.3"]  # one refused address is enough
        await services.publisher.publish(message_event(text="2"))
        assert await delivery.step() == 1
        answers["hooks.test"] = ["169.254.169.254"]
        await services.publisher.publish(message_event(text="3"))
        assert await delivery.step() == 1
    assert len(receiver.received) == 1
    dead = (await service.deliveries(APP, shown.webhook.id, "dead", 0, 10)).items
    assert len(dead) == 2 and all(d.last_error.startswith("refused:") for d in dead)
    assert {d.attempts for d in dead} == {1}
    assert service.metrics.count("refused") == 2


async def test_an_ip_literal_refused_at_delivery_time(services, receiver, settings):
    """Settings changed after the endpoint was stored (loopback no longer allowed): the literal
    address is checked at delivery too (the connector does not resolve literals)."""
    webhook_id = await hook(services, receiver)
    strict = settings.webhooks.model_copy(update={"allowed_networks": []})
    db = services.database.db
    service = WebhookService(WebhookStore(db), WebhookDeliveryStore(db), CounterStore(db),
                             services.clock, strict)
    async with Delivery(service, services.outbox) as delivery:
        await services.publisher.publish(message_event())
        assert await delivery.step() == 1
    assert receiver.received == []
    [dead] = await dead_letters(services, webhook_id)
    assert dead.last_error.startswith("refused:")


async def test_one_apps_events_never_reach_anothers_endpoint(services, receiver):
    other = Receiver()
    await other.start()
    try:
        await hook(services, receiver)
        await hook(services, other, app=admin(2), url=other.url())
        async with Delivery(services.webhooks, services.outbox) as delivery:
            await services.publisher.publish(message_event(app_id=1, text="one"))
            await services.publisher.publish(message_event(app_id=2, text="two"))
            assert await delivery.step() == 2
        assert [r["body"]["data"]["message"]["message"] for r in receiver.received] == ["one"]
        assert [r["body"]["data"]["message"]["message"] for r in other.received] == ["two"]
        assert all(r["body"]["app_id"] == 2 for r in other.received)
    finally:
        await other.close()


async def test_a_replayed_event_queues_nothing_twice(services, receiver):
    webhook_id = await hook(services, receiver)
    await services.publisher.publish(message_event())
    [event] = await services.outbox.find({})
    assert await services.webhooks.handle_events([event]) == 1
    assert await services.webhooks.handle_events([event]) == 0
    assert len(await pending(services, webhook_id)) == 1


async def _until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def test_serve_runs_the_webhook_part_from_the_same_wiring(services, receiver, caplog):
    from chatbridge import wiring

    caplog.set_level("INFO", logger="chatbridge.wiring")
    assert any(getattr(part, "__qualname__", "").startswith("webhooks_part")
               for part in wiring.serve_parts())
    await hook(services, receiver, ["user_deleted"])
    services.settings.webhooks.enabled = False
    async with wiring.webhooks_part()(services, None):
        await services.publisher.publish(Event(kind="user_deleted", app_id=1, sender_id=4))
        await asyncio.sleep(0.2)
    assert receiver.received == []
    assert any("webhooks disabled" in r.getMessage() for r in caplog.records)
    services.settings.webhooks.enabled = True
    async with wiring.webhooks_part()(services, None):
        await services.publisher.publish(Event(kind="user_deleted", app_id=1, sender_id=5))
        await _until(lambda: 5 in [r["body"]["data"]["user_id"] for r in receiver.received])
    assert all(r["valid"] for r in receiver.received)


def test_webhook_worker_needs_a_shared_store(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from chatbridge.cli import main

    monkeypatch.delenv("CHAT_MONGO__URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["webhook-worker"])
    assert result.exit_code == 2 and "CHAT_MONGO__URL" in result.output
