"""APNs over HTTP/2 (aioapns): token (.p8) or certificate authentication.

One aioapns client per server (production / sandbox), chosen by the subscription's environment
unless `sandbox` is forced in settings. `base_url` points the client at another server (tests,
proxies): aioapns takes its host and port from the protocol class, so a subclass carries them.
aioapns retries connections itself; it is told to try once, because the queue does the retrying.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
from urllib.parse import urlsplit

import jwt
from aioapns import APNs, NotificationRequest, PushType
from aioapns.connection import APNsTLSClientProtocol
from aioapns.exceptions import ConnectionClosed, ConnectionError as ApnsConnectionError, MaxAttemptsExceeded

from config.settings import ApnsSettings
from models.push import PushJob
from push.errors import PermanentPushError, TemporaryPushError, TokenRejected
from push.payloads import apns_request
from push.senders.base import Sender

logger = logging.getLogger(__name__)

TOKEN_GONE = {"BadDeviceToken", "Unregistered", "ExpiredToken"}
RETRY_403 = {"ExpiredProviderToken"}


async def _ignore(request, result) -> None:  # aioapns logs failures unless given a callback
    return None


class ApnsSender(Sender):
    name = "APNs"
    channels = ("apns", "apns_voip")

    def __init__(self, settings: ApnsSettings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._key: str | None = None
        self._clients: dict[bool, APNs] = {}
        self._protocol: type[APNsTLSClientProtocol] | None = None

    async def start(self) -> None:
        s = self._settings
        if not s.cert_file:
            self._key = (s.key.get_secret_value() if s.key and s.key.get_secret_value()
                         else s.key_file.read_text())
            # fail now on a key that cannot sign, not once per notification
            jwt.encode({"iss": s.team_id, "iat": int(time.time())}, self._key, algorithm="ES256",
                       headers={"kid": s.key_id})
        elif not s.cert_file.is_file():
            raise FileNotFoundError(f"APNs certificate {s.cert_file} not found")
        if s.base_url:
            url = urlsplit(s.base_url)
            if url.scheme != "https" or not url.hostname:
                raise ValueError("push.apns.base_url must be an https:// URL")
            self._protocol = type("ApnsServerProtocol", (APNsTLSClientProtocol,), {
                "APNS_SERVER": url.hostname, "APNS_PORT": url.port or 443})

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=str(self._settings.ca_file) if self._settings.ca_file else None)
        context.set_alpn_protocols(["h2"])
        return context

    def _client(self, sandbox: bool) -> APNs:
        client = self._clients.get(sandbox)
        if client is None:
            s = self._settings
            common = dict(topic=s.topic or None, use_sandbox=sandbox, ssl_context=self._ssl_context(),
                          max_connections=s.max_connections, max_connection_attempts=1,
                          err_func=_ignore)
            if s.cert_file:
                client = APNs(client_cert=str(s.cert_file), **common)
            else:
                client = APNs(key=self._key, key_id=s.key_id, team_id=s.team_id, **common)
            if self._protocol is not None:
                client.pool.protocol_class = self._protocol
            self._clients[sandbox] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            client.pool.close()
        self._clients.clear()

    async def send(self, job: PushJob) -> None:
        if not job.token:
            raise PermanentPushError("APNs subscription without a device token")
        request = apns_request(job.notification, job.channel)
        topic = job.bundle_identifier or self._settings.topic
        if not topic:
            raise PermanentPushError("no APNs topic: set push.apns.topic or the bundle_identifier")
        if job.channel == "apns_voip" and not topic.endswith(".voip"):
            topic += ".voip"
        sandbox = self._settings.sandbox
        if sandbox is None:
            sandbox = job.environment == "development"
        ttl = None
        if request.expiration:
            ttl = max(0, int(request.expiration) - int(time.time()))
        notification = NotificationRequest(
            device_token=job.token, message=request.payload, time_to_live=ttl,
            priority=request.priority, collapse_key=request.collapse_id,
            push_type=PushType(request.push_type), apns_topic=topic)
        try:
            result = await asyncio.wait_for(self._client(sandbox).send_notification(notification),
                                            self._timeout)
        except (ApnsConnectionError, ConnectionClosed, MaxAttemptsExceeded, ssl.SSLError,
                OSError, asyncio.TimeoutError) as exc:
            raise TemporaryPushError(f"connection error: {type(exc).__name__}") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise PermanentPushError(f"APNs credentials unusable: {type(exc).__name__}") from exc
        status = int(result.status) if str(result.status).isdigit() else 0
        reason = result.description or ""
        if status == 200:
            return
        if status == 410 or (status == 400 and reason in TOKEN_GONE):
            raise TokenRejected(reason or "Unregistered", status)
        if status == 429 or status >= 500 or (status == 403 and reason in RETRY_403):
            raise TemporaryPushError(reason or "temporary failure", status)
        if status == 413:
            raise PermanentPushError(reason or "PayloadTooLarge", status)
        if status == 403:
            raise PermanentPushError(f"{reason or 'Forbidden'} (check the APNs key, team and topic)",
                                     status)
        raise PermanentPushError(reason or "rejected", status)
