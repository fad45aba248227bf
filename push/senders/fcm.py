"""FCM HTTP v1 with a service account.

pyfcm builds the v1 message (`parse_payload`) and holds the service-account credentials; the
request itself goes out through aiohttp, because pyfcm's own sending is blocking (`requests`),
sleeps in place on Retry-After and hides 502/503 behind urllib3 retries, which would take the
retry decisions away from the queue. The OAuth token (google-auth) is refreshed in a thread when
it expires, at most once at a time.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from pyfcm import FCMNotification

from config.settings import FcmSettings
from models.push import PushJob
from push.errors import PermanentPushError, TemporaryPushError, TokenRejected
from push.payloads import fcm_parts
from push.retry import parse_retry_after
from push.senders.base import Sender

logger = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEFAULT_ENDPOINT = "https://fcm.googleapis.com/v1/projects"
TOKEN_INVALID_HINTS = ("registration token", "not a valid fcm registration token")


class FcmSender(Sender):
    name = "FCM"
    channels = ("gcm",)

    def __init__(self, settings: FcmSettings, timeout: float, concurrency: int) -> None:
        self._settings = settings
        self._timeout = timeout
        self._concurrency = concurrency
        self._credentials: service_account.Credentials | None = None
        self._fcm: FCMNotification | None = None
        self._endpoint = ""
        self._session: aiohttp.ClientSession | None = None
        self._token_lock = asyncio.Lock()

    async def start(self) -> None:
        s = self._settings
        text = (s.service_account_json.get_secret_value()
                if s.service_account_json and s.service_account_json.get_secret_value()
                else s.service_account_file.read_text())
        info = json.loads(text)
        if s.token_uri:
            info["token_uri"] = s.token_uri
        project = s.project_id or info.get("project_id")
        if not project:
            raise ValueError("no FCM project id (push.fcm.project_id or the service account's)")
        self._credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        self._fcm = FCMNotification(credentials=self._credentials, project_id=project)
        self._endpoint = f"{(s.endpoint or DEFAULT_ENDPOINT).rstrip('/')}/{project}/messages:send"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency),
            timeout=aiohttp.ClientTimeout(total=self._timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _access_token(self) -> str:
        creds = self._credentials
        assert creds is not None, "sender not started"
        if creds.valid:
            return creds.token
        async with self._token_lock:
            if not creds.valid:
                try:
                    await asyncio.wait_for(asyncio.to_thread(creds.refresh, Request()), self._timeout)
                except asyncio.TimeoutError as exc:
                    raise TemporaryPushError("FCM token endpoint timed out") from exc
                except google_exceptions.TransportError as exc:
                    raise TemporaryPushError("FCM token endpoint unreachable") from exc
                except google_exceptions.RefreshError as exc:
                    if getattr(exc, "retryable", False):
                        raise TemporaryPushError("FCM token refresh failed (retryable)") from exc
                    raise PermanentPushError(
                        "FCM service account rejected by the token endpoint") from exc
            return creds.token

    def _forget_token(self) -> None:
        if self._credentials is not None:
            self._credentials.token = None

    async def send(self, job: PushJob) -> None:
        if not job.token:
            raise PermanentPushError("FCM subscription without a registration token")
        assert self._session is not None and self._fcm is not None, "sender not started"
        body = self._fcm.parse_payload(fcm_token=job.token, **fcm_parts(job.notification, int(time.time())))
        token = await self._access_token()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            async with self._session.post(self._endpoint, data=body, headers=headers) as response:
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                text = await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TemporaryPushError(f"connection error: {type(exc).__name__}") from exc
        if status == 200:
            return
        code, message = _error(text)
        reason = code or f"HTTP {status}"
        if code == "UNREGISTERED":
            raise TokenRejected(reason, status)
        if status == 400 and (code == "INVALID_ARGUMENT" or not code) and any(
                hint in message.lower() for hint in TOKEN_INVALID_HINTS):
            raise TokenRejected("invalid registration token", status)
        if status == 401:
            self._forget_token()
            if code == "THIRD_PARTY_AUTH_ERROR":
                raise PermanentPushError("FCM rejected the APNs/web credentials of the project", status)
            raise TemporaryPushError("FCM access token refused; refreshing it", status, retry_after)
        if status == 429 or status >= 500:
            raise TemporaryPushError(reason, status, retry_after)
        if status == 413:
            raise PermanentPushError("payload too large", status)
        if status == 403:
            raise PermanentPushError(f"{reason} (check the FCM project and service account)", status)
        raise PermanentPushError(f"{reason}: {message[:200]}", status)


def _error(text: str) -> tuple[str, str]:
    """(FCM error code, message) from a v1 error body."""
    try:
        error: Any = json.loads(text).get("error") or {}
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    code = ""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = str(detail["errorCode"])
    return code or str(error.get("status") or ""), str(error.get("message") or "")
