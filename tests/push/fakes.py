"""Local stand-ins for the push providers, speaking their real protocols on loopback.

- `FakeWebPush`: an HTTP push service that checks the VAPID header (signature, audience, expiry,
  the server's public key) and decrypts the aes128gcm body with the browser's private key.
- `FakeApns`: an HTTP/2 server over TLS (self-signed certificate made here) as aioapns speaks it;
  it verifies the provider JWT and answers APNs' status/reason pairs.
- `FakeFcm`: the OAuth token endpoint (verifies the service account's signed assertion) and the
  FCM v1 send endpoint.

Each records what it received and answers from a script: `server.script = [(status, extra)...]`
is consumed one reply per request, then `server.default` is used.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import http_ece
import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, DataReceived, RequestReceived, StreamEnded


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Scripted:
    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.default: tuple[int, dict[str, Any]] = (200, {})
        self.delay = 0.0
        self.hold: asyncio.Event | None = None  # requests wait for it (a hung provider)

    def next_reply(self) -> tuple[int, dict[str, Any]]:
        return self.script.pop(0) if self.script else self.default

    async def pause(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold is not None:
            await self.hold.wait()


async def start_site(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - port 0 → the chosen port
    return runner, port


# -- WebPush ---------------------------------------------------------------------------------------
@dataclass
class BrowserSubscription:
    """What a browser's PushManager.subscribe() gives: its ECDH key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)


class FakeWebPush(Scripted):
    def __init__(self, vapid_public_key: str) -> None:
        super().__init__()
        self.vapid_public_key = vapid_public_key
        self.browsers: dict[str, BrowserSubscription] = {}
        self.received: list[dict[str, Any]] = []
        self.rejected_auth: list[str] = []
        self.requests = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._verified: dict[tuple[str, str], float] = {}
        self.decrypt_every = 1  # the benchmark decrypts a sample to spare the endpoint's CPU
        self.decrypted = 0
        self._last_exp = 0.0

    def new_browser(self, name: str) -> tuple[str, BrowserSubscription]:
        browser = BrowserSubscription()
        self.browsers[name] = browser
        return f"http://127.0.0.1:{self.port}/push/{name}", browser

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{name}", self._push)
        self._runner, self.port = await start_site(app)

    async def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _push(self, request: web.Request) -> web.Response:
        self.requests += 1
        name = request.match_info["name"]
        body = await request.read()
        problem = self._check_vapid(request)
        if problem:
            self.rejected_auth.append(problem)
            return web.Response(status=401, text=problem)
        browser = self.browsers.get(name)
        if browser is None:
            return web.Response(status=410)
        await self.pause()
        status, extra = self.next_reply()
        if status >= 300:
            return web.Response(status=status, headers=extra.get("headers"))
        assert request.headers.get("Content-Encoding") == "aes128gcm"
        payload = None
        if self.requests % self.decrypt_every == 0 or self.decrypt_every == 1:
            plain = http_ece.decrypt(body, private_key=browser.key, auth_secret=browser.auth,
                                     version="aes128gcm")
            payload = json.loads(plain)
            self.decrypted += 1
        self.received.append({"name": name, "payload": payload, "ttl": request.headers.get("TTL"),
                              "urgency": request.headers.get("Urgency")})
        return web.Response(status=201)

    def _check_vapid(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        expiry = self._verified.get((self.vapid_public_key, header))
        if expiry is not None and time.time() < expiry:
            return None  # this exact token was verified already (senders reuse it for hours)
        problem = self._verify_vapid(header)
        if problem is None:
            self._verified[(self.vapid_public_key, header)] = self._last_exp
        return problem

    def _verify_vapid(self, header: str) -> str | None:
        if not header.startswith("vapid "):
            return "no vapid authorization"
        parts = dict(p.strip().split("=", 1) for p in header[len("vapid "):].split(","))
        if parts.get("k") != self.vapid_public_key:
            return "unknown vapid key"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
        try:
            claims = jwt.decode(parts["t"], public, algorithms=["ES256"],
                                audience=f"http://127.0.0.1:{self.port}")
        except jwt.PyJWTError as exc:
            return f"bad vapid token: {exc}"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return "vapid sub missing"
        if not time.time() < claims["exp"] <= time.time() + 24 * 3600:
            return "vapid exp out of range"
        self._last_exp = claims["exp"]
        return None


# -- APNs ------------------------------------------------------------------------------------------
def make_tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "apns-cert.pem", directory / "apns-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def make_p8_key() -> tuple[str, ec.EllipticCurvePublicKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


class _H2Server(asyncio.Protocol):
    def __init__(self, fake: "FakeApns") -> None:
        self.fake = fake
        self.conn = H2Connection(config=H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, dict[str, Any]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.fake.connections += 1
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, RequestReceived):
                self.streams[event.stream_id] = {"headers": dict(event.headers), "body": b""}
            elif isinstance(event, DataReceived):
                self.streams[event.stream_id]["body"] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                asyncio.ensure_future(self._answer(event.stream_id))
            elif isinstance(event, ConnectionTerminated):
                self.transport.close()
        self.transport.write(self.conn.data_to_send())

    async def _answer(self, stream_id: int) -> None:
        request = self.streams.pop(stream_id)
        headers = request["headers"]
        self.fake.requests += 1
        problem = self.fake.check_auth(headers.get("authorization", ""))
        if problem:
            status, extra = 403, {"reason": "InvalidProviderToken"}
            self.fake.rejected_auth.append(problem)
        else:
            await self.fake.pause()
            status, extra = self.fake.next_reply()
        if status == 200:
            self.fake.received.append({"path": headers[":path"], "headers": headers,
                                       "payload": json.loads(request["body"])})
        if self.transport is None or self.transport.is_closing():
            return
        reply = [(":status", str(status)), ("apns-id", headers.get("apns-id", ""))]
        if status == 200:
            self.conn.send_headers(stream_id, reply, end_stream=True)
        else:
            self.conn.send_headers(stream_id, reply)
            body = {"reason": extra.get("reason", "Error")}
            if status == 410:
                body["timestamp"] = int(time.time() * 1000)
            self.conn.send_data(stream_id, json.dumps(body).encode(), end_stream=True)
        self.transport.write(self.conn.data_to_send())

    def connection_lost(self, exc) -> None:
        self.transport = None


class FakeApns(Scripted):
    def __init__(self, cert: Path, key: Path, team_id: str, key_id: str,
                 public_key: ec.EllipticCurvePublicKey) -> None:
        super().__init__()
        self.cert, self.key = cert, key
        self.team_id, self.key_id, self.public_key = team_id, key_id, public_key
        self.received: list[dict[str, Any]] = []
        self.rejected_auth: list[str] = []
        self.requests = 0
        self.connections = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        context.set_alpn_protocols(["h2"])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _H2Server(self), "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def check_auth(self, header: str) -> str | None:
        if not header.startswith("bearer "):
            return "no bearer token"
        token = header[len("bearer "):]
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key_id:
                return "wrong kid"
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"])
        except jwt.PyJWTError as exc:
            return f"bad provider token: {exc}"
        if claims.get("iss") != self.team_id or abs(time.time() - claims.get("iat", 0)) > 3600:
            return "wrong iss / iat"
        return None


# -- FCM -------------------------------------------------------------------------------------------
def make_service_account(token_uri: str, project_id: str = "demo-project") -> tuple[dict, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = {
        "type": "service_account", "project_id": project_id, "private_key_id": "kid-1",
        "private_key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": f"push@{project_id}.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": token_uri,
    }
    return info, key.public_key()


class FakeFcm(Scripted):
    def __init__(self, project_id: str, client_email: str, public_key) -> None:
        super().__init__()
        self.project_id = project_id
        self.client_email = client_email
        self.public_key = public_key
        self.tokens_issued: list[str] = []
        self.token_script: list[int] = []  # statuses for the token endpoint
        self.received: list[dict[str, Any]] = []
        self.rejected_auth: list[str] = []
        self.requests = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        self._runner, self.port = await start_site(app)

    async def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode())
        if self.token_script:
            return web.json_response({"error": "invalid_grant"}, status=self.token_script.pop(0))
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        try:
            claims = jwt.decode(form["assertion"][0], self.public_key, algorithms=["RS256"],
                                audience="https://oauth2.googleapis.com/token")  # google-auth always signs for this
        except jwt.PyJWTError as exc:
            return web.json_response({"error": "invalid_grant", "detail": str(exc)}, status=400)
        assert claims["iss"] == self.client_email
        assert "firebase.messaging" in claims["scope"]
        token = f"access-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    async def _send(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.match_info["project"] != self.project_id:
            return web.json_response({"error": {"code": 404, "status": "NOT_FOUND"}}, status=404)
        auth = request.headers.get("Authorization", "")
        if not self.tokens_issued or auth != f"Bearer {self.tokens_issued[-1]}":
            self.rejected_auth.append(auth)
            return web.json_response({"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                "message": "Request had invalid authentication credentials."}},
                                     status=401)
        body = await request.json()
        await self.pause()
        status, extra = self.next_reply()
        if status == 200:
            self.received.append({"path": request.path, "body": body})
            return web.json_response({"name": f"projects/{self.project_id}/messages/{self.requests}"})
        error = {"code": status, "status": extra.get("status", "INTERNAL"),
                 "message": extra.get("message", "error")}
        if extra.get("errorCode"):
            error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                 "errorCode": extra["errorCode"]}]
        return web.json_response({"error": error}, status=status, headers=extra.get("headers"))
