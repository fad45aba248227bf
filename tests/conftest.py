"""Shared fixtures: real stores on mongomock-motor (or a real MongoDB via CHAT_TEST_MONGO_URL),
services built by the production `build_services`, and the production REST app factory."""
from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import Settings
from models.clock import FakeClock
from models.services.container import Services, build_services
from models.storage.mongo import Database, memory_database

AUTH_KEY = "test-auth-key"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        app={"id": 1, "auth_key": SecretStr(AUTH_KEY), "auth_secret": SecretStr("s")},
        blobs={"path": tmp_path / "blobs"},
        data_dir=tmp_path,
        xmpp={"auth_user": "prosody", "auth_password": SecretStr("xmpp-secret")},
    )


@pytest.fixture
async def database() -> Database:
    url = os.environ.get("CHAT_TEST_MONGO_URL")
    if url:
        from config.settings import MongoSettings
        from models.storage.mongo import open_database

        db = open_database(MongoSettings(url=SecretStr(url), database=f"test_{uuid.uuid4().hex[:8]}"))
        yield db
        await db.client.drop_database(db.db.name)
        db.close()
    else:
        yield memory_database()


@pytest.fixture
def clock() -> FakeClock:
    # starts at the real time: a real MongoDB's TTL monitor would remove "expired" sessions
    from models.clock import Clock

    return FakeClock(Clock().now())


@pytest.fixture
async def services(settings, database, clock) -> Services:
    built = build_services(settings, database, clock=clock)
    await built.start()
    # a second application, to prove nothing leaks across applications
    await built.apps._apps.ensure({"_id": 2, "title": "other", "auth_key": "other-key",
                                   "auth_secret": "x", "created_at": clock.now()})
    return built


@pytest.fixture
async def client(aiohttp_client, services):
    from rest.app import create_app

    return await aiohttp_client(create_app(services))


class Api:
    """Small helper over the test client: sessions and users for REST tests."""

    def __init__(self, client) -> None:
        self.client = client

    async def app_token(self, app_id: int = 1, auth_key: str = AUTH_KEY) -> str:
        resp = await self.client.post("/session.json", json={"application_id": app_id, "auth_key": auth_key})
        assert resp.status == 201, await resp.text()
        return (await resp.json())["session"]["token"]

    async def new_user(self, login: str | None = None, app_id: int = 1,
                       auth_key: str = AUTH_KEY, **fields: Any) -> dict[str, Any]:
        """Signs up a user and opens a user session: {'id', 'token', 'user', 'login'}."""
        login = login or f"user{uuid.uuid4().hex[:8]}"
        token = await self.app_token(app_id, auth_key)
        resp = await self.client.post("/users.json", headers={"CB-Token": token},
                                      json={"user": {"login": login, "password": "password123", **fields}})
        assert resp.status == 201, await resp.text()
        resp = await self.client.post("/session.json", json={
            "application_id": app_id, "auth_key": auth_key,
            "user": {"login": login, "password": "password123"}})
        assert resp.status == 201, await resp.text()
        session = (await resp.json())["session"]
        return {"id": session["user_id"], "token": session["token"], "user": session["user"], "login": login}

    async def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["CB-Token"] = token
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        text = await resp.text()
        try:
            import json

            body = json.loads(text) if text else None
        except ValueError:
            body = text
        return resp.status, body


@pytest.fixture
def api(client) -> Api:
    return Api(client)
