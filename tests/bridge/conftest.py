"""Bridge fixtures: one real chatbridge (services + REST app + the bridge part with a real Prosody,
the project's own config, free ports) per test session, in a background thread with its own event
loop; slixmpp clients and a REST helper in each test's loop.

- `server`: the running process parts; `server.call(fn)` runs `await fn(services)` in the server's
  loop (store assertions), `server.bridge` is the live Bridge.
- `rest`: `await rest.new_user()` → {id, token, jid, login}; `await rest.call(method, path, token, json=...)`.
- `xmpp`: `await xmpp(user)` → a logged-in `Client` (disconnected after the test).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import socket
import ssl
import threading
import time
import uuid
from typing import Any, Awaitable, Callable
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from pydantic import SecretStr
from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from bridge.certificates import self_signed_files
from config.settings import Settings
from models.services.container import Services, build_services
from models.storage.mongo import memory_database

AUTH_KEY = "bridge-test-key"
DOMAIN = "localhost"
APP_ID = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(tmp, **xmpp: Any) -> Settings:
    return Settings(
        _env_file=None,
        app={"id": APP_ID, "auth_key": SecretStr(AUTH_KEY), "auth_secret": SecretStr("s")},
        http={"host": "127.0.0.1", "port": free_port()},
        blobs={"path": tmp / "blobs"},
        data_dir=tmp,
        push={"enabled": False},
        # The session's one server signs up every test's users from one address, far past a real
        # client's rate; the limits have their own tests (tests/rest/test_rate_limits.py).
        rate_limits={"signups_per_address": "1000000/minute"},
        xmpp={"domain": DOMAIN, "host": "127.0.0.1", "c2s_port": free_port(),
              "c2s_direct_tls_port": free_port(), "proxy65_port": free_port(),
              "http_port": free_port(), "component_port": free_port(),
              "auth_password": SecretStr("xmpp-secret"),
              "component_secret": SecretStr("component-secret"),
              "reconnect_backoff_max_seconds": 1.0, **xmpp},
    )


class Server:
    """chatbridge's parts (the production wiring functions) running in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chatbridge-server",
                                       daemon=True)
        self.services: Services | None = None
        self.bridge = None
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{DOMAIN}:{self.settings.xmpp.http_port}/xmpp-websocket"

    def start(self) -> None:
        self.thread.start()
        self.run(self._start(), timeout=60)

    async def _start(self) -> None:
        from chatbridge import wiring
        from rest.app import create_app
        from rest.views.health import HEALTH_CHECKS

        self.services = build_services(self.settings, memory_database())
        await self.services.start()
        app = create_app(self.services)
        self._stack = contextlib.AsyncExitStack()
        await self._stack.enter_async_context(wiring.bridge_part(self.services, app))
        await self._stack.enter_async_context(wiring.http_part(self.services, app))
        check = app[HEALTH_CHECKS]["xmpp"]
        self.bridge = check.__self__

    @staticmethod
    async def _task_stacks() -> str:
        import io

        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=8, file=out)
        return out.getvalue()

    def run(self, coro: Awaitable, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def call(self, fn: Callable[[Services], Awaitable[Any]], timeout: float = 10) -> Any:
        """`await fn(services)` in the server's loop, from a test's loop."""
        future = asyncio.run_coroutine_threadsafe(fn(self.services), self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    async def call_sync(self, fn: Callable[[], Any], timeout: float = 10) -> Any:
        async def wrapped(_services):
            return fn()
        return await self.call(wrapped, timeout)

    async def wait_online(self, user_id: int, resource: str, online: bool = True,
                          timeout: float = 5.0) -> None:
        """Until the bridge has seen this connection's presence (fan-out targets come from it)."""
        deadline = time.monotonic() + timeout
        while (resource in self.bridge.state.online.connections((APP_ID, user_id))) != online:
            if time.monotonic() > deadline:
                raise AssertionError(f"bridge did not see user {user_id}/{resource} online={online}")
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        if self._stack is not None:
            try:
                self.run(self._stack.aclose(), timeout=45)
            except TimeoutError:
                stacks = self.run(self._task_stacks(), timeout=5)
                raise AssertionError("chatbridge parts did not stop in 45 s; tasks:\n" + stacks) from None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def running(srv: Server):
    """A fixture's body: `srv` started (stopped again if starting fails), yielded, stopped."""
    try:
        srv.start()
    except BaseException:
        with contextlib.suppress(Exception):
            srv.stop()
        raise
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if shutil.which("prosody") is None:
        pytest.skip("Prosody is not installed: run `make system-deps` (scripts/system-deps.sh)")
    yield from running(Server(make_settings(tmp_path_factory.mktemp("bridge-server"))))


class Rest:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base = base_url

    async def call(self, method: str, path: str, token: str | None = None, **kwargs) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if token:
            headers["CB-Token"] = token
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text

    async def new_user(self, login: str | None = None) -> dict[str, Any]:
        login = login or f"u{uuid.uuid4().hex[:10]}"
        status, body = await self.call("POST", "/session.json",
                                       json={"application_id": APP_ID, "auth_key": AUTH_KEY})
        assert status == 201, body
        app_token = body["session"]["token"]
        status, body = await self.call("POST", "/users.json", app_token,
                                       json={"user": {"login": login, "password": "password123"}})
        assert status == 201, body
        status, body = await self.call("POST", "/session.json", json={
            "application_id": APP_ID, "auth_key": AUTH_KEY,
            "user": {"login": login, "password": "password123"}})
        assert status == 201, body
        uid = body["session"]["user_id"]
        return {"id": uid, "token": body["session"]["token"], "login": login,
                "jid": f"{uid}-{APP_ID}@{DOMAIN}"}

    async def dialog(self, token: str, occupants: list[int], dtype: int = 2, **fields) -> dict:
        status, body = await self.call("POST", "/chat/Dialog.json", token, json={
            "type": dtype, "name": "room", "occupants_ids": occupants, **fields})
        assert status == 201, body
        return body


@pytest.fixture
async def rest(server):
    async with aiohttp.ClientSession() as session:
        yield Rest(session, server.base_url)


class Client:
    """A slixmpp client that records every stanza it receives (as ElementTree elements).

    It logs in as stock clients do: STARTTLS on the c2s port (or direct TLS on its own port with
    `direct_tls=True`), verifying Prosody's certificate against the server's self-signed one (the
    "trust this certificate" step), or not verifying at all with `verify=False`."""

    _seq = itertools.count()

    def __init__(self, user: dict[str, Any], settings: Settings, password: str | None = None,
                 *, direct_tls: bool = False, verify: bool = True,
                 plugins: tuple[str, ...] = ()) -> None:
        self.user = user
        self.xmpp = ClientXMPP(user["jid"], password or user["token"])
        self.direct_tls = direct_tls
        self.xmpp.enable_starttls = not direct_tls
        self.xmpp.enable_direct_tls = direct_tls
        self.xmpp.enable_plaintext = False
        if verify:
            self.xmpp.ca_certs = self_signed_files(settings.data_dir).certificate
        else:
            self.xmpp.ssl_context.check_hostname = False
            self.xmpp.ssl_context.verify_mode = ssl.CERT_NONE
        self.tls_failure: Exception | None = None
        self.xmpp.add_event_handler("ssl_invalid_chain", self._invalid_chain)
        for plugin in plugins:
            self.xmpp.register_plugin(plugin)
        self.xmpp.remove_handler("IM")
        self.xmpp.remove_handler("Presence")
        self.settings = settings
        self.stanzas: list[ET.Element] = []
        self.stream_features: list[ET.Element] = []  # each stream's <features>, in order
        self._changed = asyncio.Event()
        self.xmpp.register_handler(Callback(
            "rec features", MatchXPath("{http://etherx.jabber.org/streams}features"),
            lambda stanza: self.stream_features.append(stanza.xml)))
        for kind in ("message", "presence", "iq"):
            self.xmpp.register_handler(Callback(f"rec {kind}", MatchXPath(f"{{jabber:client}}{kind}"),
                                                self._record))
        self.failed = False
        self.xmpp.add_event_handler("failed_auth", self._failed)

    def _failed(self, _event) -> None:
        self.failed = True
        self._changed.set()

    def _invalid_chain(self, error: Exception) -> None:
        self.tls_failure = error
        self._failed(error)

    def _record(self, stanza) -> None:
        self.stanzas.append(stanza.xml)
        self._changed.set()
        if stanza.xml.tag == "{jabber:client}iq" and stanza.xml.get("type") in ("get", "set"):
            pass

    @property
    def jid(self) -> str:
        return str(self.xmpp.boundjid.full)

    @property
    def resource(self) -> str:
        return self.xmpp.boundjid.resource

    async def connect(self, timeout: float = 10) -> None:
        xmpp = self.settings.xmpp
        self.xmpp.connect(xmpp.host, xmpp.c2s_direct_tls_port if self.direct_tls else xmpp.c2s_port)
        waiter = asyncio.ensure_future(self.xmpp.wait_until("session_start", timeout))
        fail = asyncio.ensure_future(self._wait_failed())
        done, pending = await asyncio.wait({waiter, fail}, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if self.failed or waiter not in done:
            self.xmpp.abort()
            raise ConnectionRefusedError(f"login of {self.user['jid']} failed")
        self.xmpp.send_presence()

    async def _wait_failed(self) -> None:
        while not self.failed:
            self._changed.clear()
            await self._changed.wait()

    def send(self, xml: str) -> None:
        self.xmpp.send_raw(xml)

    async def wait_for(self, predicate: Callable[[ET.Element], bool], timeout: float = 5.0,
                       count: int = 1) -> list[ET.Element]:
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.stanzas if predicate(s)]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = "\n".join(ET.tostring(s, encoding="unicode")[:300] for s in self.stanzas[-10:])
                raise AssertionError(f"{self.user['jid']}: expected stanza not received in {timeout}s; "
                                     f"last received:\n{seen}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def absent(self, predicate: Callable[[ET.Element], bool], wait: float = 0.5) -> None:
        await asyncio.sleep(wait)
        found = [s for s in self.stanzas if predicate(s)]
        assert not found, ET.tostring(found[0], encoding="unicode")

    def clear(self) -> None:
        self.stanzas.clear()

    async def close(self) -> None:
        if self.xmpp.transport is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.xmpp.disconnect(wait=0.5), 3)
            if self.xmpp.transport is not None:
                self.xmpp.abort()


@pytest.fixture
async def xmpp(server):
    clients: list[Client] = []

    async def connect(user: dict[str, Any], password: str | None = None, **options: Any) -> Client:
        client = Client(user, server.settings, password, **options)
        clients.append(client)
        await client.connect()
        await server.wait_online(user["id"], client.resource)
        return client

    yield connect
    for client in clients:
        await client.close()


# -- small predicates -----------------------------------------------------------------------------
def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def sub(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if local(child.tag) == name:
            return child
    return None


def is_message(element: ET.Element, **attrs: str) -> bool:
    return local(element.tag) == "message" and all(element.get(k) == v for k, v in attrs.items())


def extra(element: ET.Element) -> dict[str, Any]:
    params = sub(element, "extraParams")
    out: dict[str, Any] = {}
    if params is None:
        return out
    for child in params:
        if local(child.tag) == "attachment":
            out.setdefault("attachments", []).append(dict(child.attrib))
        else:
            out[local(child.tag)] = child.text or ""
    return out


def new_id() -> str:
    from models.storage.ids import new_id as make

    return make()
