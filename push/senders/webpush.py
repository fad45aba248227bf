"""WebPush (RFC 8030) with VAPID (RFC 8292) and aes128gcm encryption (RFC 8291), via pywebpush.

pywebpush builds and sends the request. Its encryption step goes through http_ece's generic code
(peer key parsed again, three HKDF objects, several key serialisations: the largest cost of a
send, see docs/benchmarks.md), so `_WebPusher.encode` does the same RFC 8291 aes128gcm itself: a fresh
ephemeral ECDH key and a random salt for every message, one 4096-byte record, HKDF-SHA256 over
hmac. Its output is checked in the tests by http_ece's own decrypt.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
import struct
import time
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from py_vapid import Vapid
from pywebpush import CaseInsensitiveDict, WebPusher, WebPushException

from models.push import PushJob
from push.errors import PermanentPushError, TemporaryPushError, TokenRejected
from push.payloads import webpush_body, webpush_ttl, webpush_urgency
from push.retry import parse_retry_after
from push.senders.base import Sender

logger = logging.getLogger(__name__)

VAPID_TTL = 12 * 60 * 60  # JWT lifetime; push services refuse more than 24 h
VAPID_RENEW = 60 * 60  # sign a new one when less than this is left
RECORD_SIZE = 4096
_POINT = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@functools.lru_cache(maxsize=4096)
def _receiver_key(raw: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def encrypt_aes128gcm(plaintext: bytes, receiver: bytes, auth_secret: bytes) -> bytes:
    """RFC 8291 message encryption (RFC 8188 aes128gcm content coding, a single record)."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    sender = ephemeral.public_key().public_bytes(*_POINT)
    shared = ephemeral.exchange(ec.ECDH(), _receiver_key(receiver))
    # IKM = HKDF(salt=auth_secret, ikm=ECDH secret, info="WebPush: info" 0x00 ua_public as_public)
    ikm = _hmac(_hmac(auth_secret, shared), b"WebPush: info\x00" + receiver + sender + b"\x01")
    salt = os.urandom(16)
    prk = _hmac(salt, ikm)
    key = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    header = salt + struct.pack("!IB", RECORD_SIZE, len(sender)) + sender
    return header + AESGCM(key).encrypt(nonce, plaintext + b"\x02", None)  # 0x02: last record


class _WebPusher(WebPusher):
    def encode(self, data: bytes, content_encoding: str = "aes128gcm") -> CaseInsensitiveDict:
        if content_encoding != "aes128gcm" or not data or not self.receiver_key or not self.auth_key:
            return super().encode(data, content_encoding)
        reply = CaseInsensitiveDict()
        reply["body"] = encrypt_aes128gcm(data, self.receiver_key, self.auth_key)
        return reply


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
            pusher = _WebPusher(info, aiohttp_session=self._session)
            response = await pusher.send_async(
                body, headers, ttl=webpush_ttl(job.notification, now, self._default_ttl),
                timeout=self._timeout)
        except WebPushException as exc:  # keys that cannot be used for encryption
            raise PermanentPushError(f"unusable subscription keys: {exc.message}") from exc
        except ValueError as exc:  # not a point on P-256
            raise PermanentPushError("unusable subscription keys: invalid p256dh") from exc
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
