"""Push fixtures: the three fake providers on loopback, settings pointing at them, and helpers to
seed users, dialogs, subscriptions and messages through the real stores and services."""
from __future__ import annotations

import json
import random
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import PushSettings
from models.dialogs import Dialog, DialogType
from models.events import Event
from models.messages import Message
from models.push import DeviceDraft, PushTokenDraft, SubscriptionDraft
from models.requester import Requester
from models.services.container import Services
from models.storage.dialogs import DialogStore
from models.storage.ids import new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.users import UserStore
from push.senders import close_senders, start_senders
from push.vapid import application_server_key, generate_key_file
from push.worker import OutboxFanout, PushWorker
from tests.push.fakes import (FakeApns, FakeFcm, FakeWebPush, make_p8_key, make_service_account,
                              make_tls_files)

TEAM_ID, KEY_ID, TOPIC = "TEAM123456", "KEY1234567", "com.example.chat"
PROJECT = "demo-project"


@pytest.fixture(scope="session")
def service_account() -> tuple[dict, Any]:
    return make_service_account("https://oauth2.invalid/token", PROJECT)  # token_uri overridden


@pytest.fixture(scope="session")
def p8_key() -> tuple[str, Any]:
    return make_p8_key()


@pytest.fixture
def vapid_file(tmp_path):
    path = tmp_path / "vapid.pem"
    vapid, _ = generate_key_file(path)
    return path, application_server_key(vapid)


@pytest.fixture
async def webpush(vapid_file):
    fake = FakeWebPush(vapid_file[1])
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def apns(tmp_path, p8_key):
    cert, key = make_tls_files(tmp_path)
    fake = FakeApns(cert, key, TEAM_ID, KEY_ID, p8_key[1])
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def fcm(service_account):
    info, public = service_account
    fake = FakeFcm(PROJECT, info["client_email"], public)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def push_settings(tmp_path, vapid_file, webpush, apns, fcm, service_account, p8_key) -> PushSettings:
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps(service_account[0]))
    return PushSettings(
        concurrency=50, batch_size=50, lease_seconds=30, poll_seconds=0.05,
        send_timeout_seconds=2, backoff_base_seconds=1, backoff_max_seconds=60,
        max_age_seconds=3600,
        apns={"key": SecretStr(p8_key[0]), "key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC,
              "base_url": f"https://127.0.0.1:{apns.port}", "ca_file": apns.cert},
        fcm={"service_account_file": account, "endpoint": f"{fcm.base}/v1/projects",
             "token_uri": f"{fcm.base}/token"},
        webpush={"vapid_private_key_file": vapid_file[0], "allowed_hosts": ["127.0.0.1"],
                 "allow_http": True, "subject": "mailto:ops@example.com"},
    )


@pytest.fixture
def settings(settings, push_settings):
    return settings.model_copy(update={"push": push_settings})


@pytest.fixture
async def senders(services):
    started = await start_senders(services.settings.push)
    yield started
    await close_senders(started)


class PushEnv:
    """Seeds data through the real stores/services and drives fan-out and workers by hand."""

    def __init__(self, services: Services, senders, webpush: FakeWebPush) -> None:
        self.services = services
        self.senders = senders
        self.webpush = webpush
        db = services.database.db
        self.users = UserStore(db)
        self.dialogs = DialogStore(db)
        self.members = MemberStore(db)
        self.messages = MessageStore(db)
        self.jobs = services.database.push_job_store()
        self.fanout = OutboxFanout(services.push, services.outbox, 0.05)
        self._next_user = 100

    def worker(self, name: str = "w", seed: int = 1) -> PushWorker:
        return PushWorker(self.services.push, self.senders, self.services.settings.push, name=name,
                          rng=random.Random(seed))

    async def user(self, name: str, app_id: int = 1) -> int:
        self._next_user += 1
        now = self.services.clock.now()
        await self.users.insert({"_id": self._next_user, "app_id": app_id, "login": name.lower(),
                                 "full_name": name, "created_at": now, "updated_at": now,
                                 "is_guest": False, "user_tags": []})
        return self._next_user

    async def subscribe(self, user_id: int, channel: str, device: DeviceDraft, token: PushTokenDraft,
                        app_id: int = 1):
        draft = SubscriptionDraft(channels=(channel,), device=device, push_token=token)
        subs = await self.services.subscriptions.create(Requester(app_id=app_id, user_id=user_id), draft)
        return subs[0]

    async def subscribe_web(self, user_id: int, name: str, udid: str | None = None):
        endpoint, browser = self.webpush.new_browser(name)
        sub = await self.subscribe(user_id, "web", DeviceDraft(platform="web", udid=udid or name),
                                   PushTokenDraft(environment="production", web_endpoint=endpoint,
                                                  web_auth=browser.auth_b64, web_p256dh=browser.p256dh))
        return sub, browser

    async def subscribe_apns(self, user_id: int, token: str, udid: str, channel: str = "apns",
                             environment: str = "development"):
        return await self.subscribe(user_id, channel, DeviceDraft(platform="ios", udid=udid),
                                    PushTokenDraft(environment=environment,
                                                   client_identification_sequence=token))

    async def subscribe_gcm(self, user_id: int, token: str, udid: str, app_id: int = 1):
        return await self.subscribe(user_id, "gcm", DeviceDraft(platform="android", udid=udid),
                                    PushTokenDraft(environment="production",
                                                   client_identification_sequence=token),
                                    app_id=app_id)

    async def dialog(self, owner: int, occupants: list[int], *, type: int = 3, name: str | None = None,
                     extensions: dict | None = None, app_id: int = 1) -> str:
        now = self.services.clock.now()
        dialog_id = await self.dialogs.insert(Dialog(
            id="", app_id=app_id, type=DialogType(type), name=name, user_id=owner,
            occupants_ids=tuple(occupants), extensions=extensions, created_at=now, updated_at=now))
        await self.members.add(app_id, dialog_id, occupants, {})
        return dialog_id

    async def message(self, dialog_id: str, sender: int, text: str, *, recipients: list[int] | None = None,
                      silent: bool = False, app_id: int = 1, publish: bool = True) -> str:
        """Stores a message the way the message service does and publishes `message_created`."""
        now = self.services.clock.now()
        seq = await self.dialogs.next_seq(app_id, dialog_id, {"last_message": text})
        message, _ = await self.messages.insert(Message(
            id=new_id(), app_id=app_id, dialog_id=dialog_id, seq=seq, sender_id=sender, body=text,
            date_sent=int(now.timestamp()), created_at=now, updated_at=now, read_ids=(sender,),
            delivered_ids=(sender,)))
        dialog = await self.dialogs.get(app_id, dialog_id)
        if recipients is None:
            recipients = [u for u in dialog.occupants_ids if u != sender]
        if publish:
            await self.services.outbox.publish(Event(
                kind="message_created", app_id=app_id, dialog_id=dialog_id, sender_id=sender,
                recipient_ids=recipients,
                payload={"message": {"_id": message.id, "chat_dialog_id": dialog_id,
                                     "message": text, "sender_id": sender, "attachments": []},
                         "custom": {}, "dialog_type": int(dialog.type), "silent": silent}))
        return message.id

    async def drain(self, worker: PushWorker | None = None) -> int:
        """Fan-out of pending outbox events, then batches until nothing is ready."""
        await self.fanout.run_once()
        worker = worker or self.worker()
        total = 0
        while claimed := await worker.run_once():
            total += claimed
        return total


@pytest.fixture
async def env(services, senders, webpush) -> PushEnv:
    return PushEnv(services, senders, webpush)
