"""WebPush (RFC 8030) with VAPID (RFC 8292) and aes128gcm encryption (RFC 8291), via pywebpush."""
from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from models.push import PushJob
from push.errors import PermanentPushError, TemporaryPushError, TokenRejected
from push.payloads import webpush_body, webpush_ttl, webpush_urgency
from push.retry import parse_retry_after
from push.senders.base import Sender

logger = logging.getLogger(__name__)

VAPID_TTL = 12 * 60 * 60  # JWT lifetime; push services refuse more than 24 h
VAPID_RENEW = 60 * 60  # sign a new one when less than this is left


class WebPushSender(Sender):
    name = "WebPush"
    channels = ("web",)

    def __init__(self, vapid: Vapid, subject: str, timeout: float, concurrency: int,
                 default_ttl: int) -> None:
        self._vapid = vapid
        self._subject = subject
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._concurrency = concurrency
        self._default_ttl = default_ttl
        self._session: aiohttp.ClientSession | None = None
        self._signed: dict[str, tuple[dict[str, str], float]] = {}  # audience -> (headers, exp)

    async def start(self) -> None:
        self._vapid_headers("https://push.example")  # fails now, not per job, on a bad key
        self._signed.clear()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency),
            timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _vapid_headers(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._signed.get(audience)
        if cached is None or cached[1] - now < VAPID_RENEW:
            exp = int(now) + VAPID_TTL
            headers = self._vapid.sign({"aud": audience, "sub": self._subject, "exp": exp})
            cached = (headers, exp)
            self._signed[audience] = cached
        return cached[0]

    async def send(self, job: PushJob) -> None:
        if job.web is None:
            raise PermanentPushError("web subscription without endpoint keys")
        assert self._session is not None, "sender not started"
        now = int(time.time())
        body = webpush_body(job.notification)
        headers = {**self._vapid_headers(job.web.endpoint),
                   "Urgency": webpush_urgency(job.notification)}
        info = {"endpoint": job.web.endpoint,
                "keys": {"auth": job.web.auth, "p256dh": job.web.p256dh}}
        try:
            pusher = WebPusher(info, aiohttp_session=self._session)
            response = await pusher.send_async(
                body, headers, ttl=webpush_ttl(job.notification, now, self._default_ttl),
                timeout=self._timeout)
        except WebPushException as exc:  # keys that cannot be used for encryption
            raise PermanentPushError(f"unusable subscription keys: {exc.message}") from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TemporaryPushError(f"connection error: {type(exc).__name__}") from exc
        status = response.status
        if status in (200, 201, 202):
            return
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        reason = f"HTTP {status} from push service"
        if status in (404, 410):
            raise TokenRejected("subscription expired or unsubscribed", status)
        if status == 429 or status >= 500:
            raise TemporaryPushError(reason, status, retry_after)
        if status == 413:
            raise PermanentPushError("payload too large", status)
        if status in (401, 403):
            raise PermanentPushError("VAPID authorization rejected (check the VAPID key/subject)",
                                     status)
        raise PermanentPushError(reason, status)
