"""Sessions: application sessions, user sessions, sliding expiry, login / logout on a session;
refresh tokens (rotation with reuse detection, OAuth 2.1), the devices and the list of a user's
sessions, ending them (their refresh tokens and XMPP connections too) and the new-login notice.

A login is one session `id`: the first access token gets it, and each refresh makes a new access
token with the same id (the old one ends), so `GET /sessions` shows one entry per login and
`DELETE /sessions/{id}` ends all of it. Its refresh-token family is the `refresh_tokens` document
with that id (models/storage/refresh_tokens.py). Ending sessions publishes `sessions_ended`: the
bridge closes the XMPP connections that logged in with their tokens (docs/xmpp.md)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import datetime, timedelta, timezone

from config.settings import SessionSettings
from models.clock import Clock
from models.events import Event, EventPublisher
from models.errors import ForbiddenError, InvalidError, NotFoundError, SessionMissingError, UnauthenticatedError
from models.jids import parse_user_local
from models.requester import Requester, require_user
from models.services.rate_limits import RateLimitService
from models.services.users import UserService
from models.storage.apps import AppStore
from models.storage.counters import CounterStore
from models.storage.refresh_tokens import RefreshTokenStore
from models.storage.sessions import DeviceStore, SessionStore
from models.users import (Credentials, Device, GuestLogin, Session, SessionInfo, SessionRequest,
                          User)

logger = logging.getLogger(__name__)

# How long a resolved token is trusted from this process's memory before the store is read again
# (and the sliding expiry pushed forward). Revocation on another instance shows within this time.
CACHE_SECONDS = 10.0
MAX_TOKEN_CHARS = 512
INVALID_REFRESH = "Invalid refresh token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_key(device: Device) -> str:
    """What tells one device from another: the device id the client gave, else its user agent
    (the ConnectyCube SDK sends no device id), else nothing ("unknown": one device)."""
    if device.udid:
        return "id:" + hashlib.sha256(device.udid.encode()).hexdigest()[:32]
    if device.user_agent:
        return "ua:" + hashlib.sha256(device.user_agent.encode()).hexdigest()[:32]
    return "unknown"


def _device_doc(device: Device) -> dict:
    return device.model_dump()


class SessionService:
    def __init__(self, sessions: SessionStore, apps: AppStore, counters: CounterStore,
                 users: UserService, clock: Clock, settings: SessionSettings,
                 refresh_tokens: RefreshTokenStore, devices: DeviceStore,
                 publisher: EventPublisher, rate_limits: RateLimitService) -> None:
        self._sessions = sessions
        self._apps = apps
        self._counters = counters
        self._users = users
        self._clock = clock
        self._settings = settings
        self._refresh = refresh_tokens
        self._devices = devices
        self._publisher = publisher
        self._rate_limits = rate_limits
        self._cache: dict[str, tuple[Requester, float]] = {}

    # -- creation -----------------------------------------------------------------------------
    async def create(self, request: SessionRequest, address: str | None = None) -> tuple[Session, User | None]:
        """`address`: where the request came from (per-address login limits). A user session comes
        with a refresh token (`Session.refresh_token`)."""
        app_id = await self.check_app_credentials(request.application_id, request.auth_key)
        user: User | None = None
        guest = False
        if request.provider:
            raise InvalidError("provider login is not supported by this server", field="provider")
        if isinstance(request.user, GuestLogin):
            user = await self._users.create_guest(app_id, request.user.full_name)
            guest = True
        elif request.user is not None:
            user = await self._users.authenticate(app_id, request.user, address)
        session = await self._open(app_id, user.id if user else 0, guest, request.device)
        if user:
            session = await self._start_family(session, with_token=True)
            await self._note_device(session)
            user = await self._users.touch(user)
        return session, user

    async def check_app_credentials(self, application_id: int, auth_key: str) -> int:
        app = await self._apps.get(application_id)
        if app is None or not hmac.compare_digest(str(app["auth_key"]).encode(), auth_key.encode()):
            raise UnauthenticatedError("Unexpected auth key or application id")
        return application_id

    async def check_auth_key(self, auth_key: str) -> int:
        """Resolves a `CB-AuthKey` header to its application id (sign-up without a session)."""
        app = await self._apps.find_by_auth_key(auth_key)
        if app is None:
            raise UnauthenticatedError("Unexpected auth key")
        return int(app["_id"])

    async def _open(self, app_id: int, user_id: int, guest: bool, device: Device,
                    session_id: int | None = None) -> Session:
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        ttl = self._settings.guest_ttl_seconds if guest else self._settings.ttl_seconds
        doc = {
            "_id": hash_token(token),
            "id": session_id if session_id is not None else await self._counters.next("sessions"),
            "app_id": app_id,
            "user_id": user_id,
            "is_guest": guest,
            "device": _device_doc(device),
            "created_at": now,
            "updated_at": now,
            "expires_at": now + timedelta(seconds=ttl),
        }
        await self._sessions.insert(doc)
        return Session.model_validate({**doc, "token": token})

    async def _start_family(self, session: Session, with_token: bool) -> Session:
        """The login's `refresh_tokens` document; with a first refresh token when `with_token`."""
        now = session.created_at
        absolute = now + timedelta(seconds=self._settings.refresh_absolute_seconds)
        token = secrets.token_urlsafe(32) if with_token else ""
        await self._refresh.insert({
            "_id": session.id, "app_id": session.app_id, "user_id": session.user_id,
            "is_guest": session.is_guest,
            "device": _device_doc(session.device or Device()),
            "created_at": now, "last_used_at": now,
            "token_hash": hash_token(token) if token else None, "previous_hashes": [],
            "expires_at": self._refresh_expiry(now, absolute), "absolute_expires_at": absolute,
        })
        return session.model_copy(update={"refresh_token": token})

    def _refresh_expiry(self, now: datetime, absolute: datetime) -> datetime:
        return min(now + timedelta(seconds=self._settings.refresh_idle_seconds), absolute)

    # -- refresh tokens (rotation with reuse detection) ---------------------------------------------
    async def refresh(self, refresh_token: str | None, address: str | None = None) -> tuple[Session, User]:
        """A new session (same id, device and login time; a new access and refresh token) for a
        live refresh token, which stops working. A token that was already rotated ends the whole
        login (every session of the family, its XMPP connections) and answers 401, as does an
        unknown or expired one; those failures count per address (`refresh_failures_per_address`)."""
        self._rate_limits.check_refresh(address)
        if not refresh_token or not isinstance(refresh_token, str) or len(refresh_token) > MAX_TOKEN_CHARS:
            self._rate_limits.refresh_failed(address)
            raise UnauthenticatedError(INVALID_REFRESH)
        token_hash = hash_token(refresh_token)
        now = self._clock.now()
        family = await self._refresh.find_current(token_hash)
        if family is None:
            self._rate_limits.refresh_failed(address)
            rotated = await self._refresh.find_rotated(token_hash)
            if rotated is not None:
                logger.warning("a rotated refresh token of session %s (user %s, app %s) was used "
                               "again: the session is ended", rotated["_id"], rotated["user_id"],
                               rotated["app_id"])
                await self._end(rotated["app_id"], rotated["user_id"], [rotated["_id"]])
            raise UnauthenticatedError(INVALID_REFRESH)
        app_id, user_id, session_id = family["app_id"], family["user_id"], family["_id"]
        if _aware(family["expires_at"]) <= now:
            self._rate_limits.refresh_failed(address)
            await self._end(app_id, user_id, [session_id])
            raise UnauthenticatedError(INVALID_REFRESH)
        try:
            user = await self._users.get_entity(app_id, user_id)
        except NotFoundError:
            await self._end(app_id, user_id, [session_id])
            raise UnauthenticatedError(INVALID_REFRESH) from None
        new_token = secrets.token_urlsafe(32)
        expires = self._refresh_expiry(now, _aware(family["absolute_expires_at"]))
        if not await self._refresh.rotate(session_id, token_hash, hash_token(new_token), now, expires):
            # a concurrent refresh with the same token won: that is a reuse too
            logger.warning("concurrent refreshes of session %s (user %s, app %s): the session is "
                           "ended", session_id, user_id, app_id)
            await self._end(app_id, user_id, [session_id])
            raise UnauthenticatedError(INVALID_REFRESH)
        for old in await self._sessions.delete_ids(app_id, user_id, [session_id]):
            self._cache.pop(old, None)
        device = Device.model_validate(family.get("device") or {})
        session = await self._open(app_id, user_id, bool(family.get("is_guest")), device, session_id)
        user = await self._users.touch(user)
        return session.model_copy(update={"refresh_token": new_token}), user

    # -- a user's sessions -----------------------------------------------------------------------
    async def list_sessions(self, requester: Requester) -> list[SessionInfo]:
        """The caller's logins, most recently used first: those with a live access token or a
        live refresh token."""
        require_user(requester)
        now = self._clock.now()
        live: dict[int, dict] = {}
        for doc in await self._sessions.find_for_user(requester.app_id, requester.user_id):
            if _aware(doc["expires_at"]) > now:
                known = live.get(doc["id"])
                if known is None or _aware(doc["updated_at"]) > _aware(known["updated_at"]):
                    live[doc["id"]] = doc
        families = {doc["_id"]: doc for doc in
                    await self._refresh.find_for_user(requester.app_id, requester.user_id)}
        out: list[SessionInfo] = []
        for session_id in set(live) | set(families):
            doc, family = live.get(session_id), families.get(session_id)
            refreshable = family is not None and family.get("token_hash") and \
                _aware(family["expires_at"]) > now
            if doc is None and not refreshable:
                continue
            used = [_aware(d["updated_at"]) for d in (doc,) if d] + \
                [_aware(f["last_used_at"]) for f in (family,) if f]
            source = family or doc
            out.append(SessionInfo(
                id=session_id, device=Device.model_validate(source.get("device") or {}),
                created_at=_aware(source["created_at"]), last_used_at=max(used),
                current=session_id == requester.session_id))
        out.sort(key=lambda info: (info.last_used_at, info.id), reverse=True)
        return out

    async def end(self, requester: Requester, session_id: int) -> None:
        """Ends one of the caller's sessions (the current one too): its access and refresh tokens
        and its XMPP connections. Another user's or application's session is not found."""
        require_user(requester)
        if session_id not in {info.id for info in await self.list_sessions(requester)}:
            raise NotFoundError("Session not found")
        await self._end(requester.app_id, requester.user_id, [session_id])

    async def end_others(self, requester: Requester) -> int:
        """Ends every session of the caller but the current one; returns how many."""
        require_user(requester)
        others = [info.id for info in await self.list_sessions(requester) if not info.current]
        if others:
            await self._end(requester.app_id, requester.user_id, others)
        return len(others)

    async def password_changed(self, requester: Requester) -> None:
        """A new password ends the user's other sessions (a stolen token or refresh token stops
        working); the session that changed it stays."""
        await self.end_others(requester)

    async def _end(self, app_id: int, user_id: int, session_ids: list[int]) -> None:
        for token_hash in await self._sessions.delete_ids(app_id, user_id, session_ids):
            self._cache.pop(token_hash, None)
        await self._refresh.delete_ids(app_id, user_id, session_ids)
        await self._publish_ended(app_id, user_id, session_ids)

    async def _publish_ended(self, app_id: int, user_id: int, session_ids: list[int]) -> None:
        if user_id > 0 and session_ids:
            await self._publisher.publish(Event(
                kind="sessions_ended", app_id=app_id, sender_id=user_id, recipient_ids=[user_id],
                payload={"session_ids": sorted(set(session_ids))}))

    async def _note_device(self, session: Session) -> None:
        """A login from a device the user had not used before tells their other devices
        (`new_device_login`, delivered over XMPP by the bridge). The first device is not news."""
        device = session.device or Device()
        if not await self._devices.remember(session.app_id, session.user_id, device_key(device),
                                            _device_doc(device), session.created_at):
            return
        if await self._devices.count_for_user(session.app_id, session.user_id) < 2:
            return
        await self._publisher.publish(Event(
            kind="new_device_login", app_id=session.app_id, sender_id=session.user_id,
            recipient_ids=[session.user_id],
            payload={"session_id": session.id, "device": _device_doc(device),
                     "date": int(session.created_at.timestamp())}))

    # -- resolution ---------------------------------------------------------------------------
    async def resolve(self, token: str | None) -> Requester:
        """A live session's requester, or SessionMissingError (401, the SDK's exact wording)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise SessionMissingError()
        token_hash = hash_token(token)
        cached = self._cache.get(token_hash)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        doc = await self._sessions.get(token_hash)
        now = self._clock.now()
        if doc is None or doc["expires_at"] <= now:
            self._cache.pop(token_hash, None)
            raise SessionMissingError()
        ttl = self._settings.guest_ttl_seconds if doc.get("is_guest") else self._settings.ttl_seconds
        await self._sessions.touch(token_hash, now, now + timedelta(seconds=ttl))
        requester = Requester(app_id=doc["app_id"], user_id=doc.get("user_id", 0),
                              session_id=doc["id"], token_hash=token_hash)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[token_hash] = (requester, time.monotonic())
        return requester

    async def get(self, requester: Requester) -> Session:
        doc = await self._sessions.get(requester.token_hash)
        if doc is None:
            raise SessionMissingError()
        return Session.model_validate(doc)

    async def destroy(self, requester: Requester) -> None:
        """`DELETE /session`: the caller's session ends, with its refresh token and its XMPP
        connections."""
        await self._sessions.delete(requester.token_hash)
        self._cache.pop(requester.token_hash, None)
        if requester.is_user:
            await self._end(requester.app_id, requester.user_id, [requester.session_id])

    # -- login / logout on an existing session --------------------------------------------------
    async def login(self, requester: Requester, credentials: Credentials,
                    address: str | None = None, device: Device | None = None) -> User:
        """Upgrades the session to a user session (`POST /login`). Its answer has no room for a
        refresh token, so such a login has none; it is listed and ended as any other."""
        user = await self._users.authenticate(requester.app_id, credentials, address)
        doc = await self._sessions.get(requester.token_hash)
        if doc is None:
            raise SessionMissingError()
        if device is None or device == Device():
            device = Device.model_validate(doc.get("device") or {})
        if requester.is_user and requester.user_id != user.id:
            # another user logs in on this session: the previous user's login on it ends
            await self._refresh.delete_ids(requester.app_id, requester.user_id, [requester.session_id])
            await self._publish_ended(requester.app_id, requester.user_id, [requester.session_id])
        now = self._clock.now()
        await self._sessions.set_user(requester.token_hash, user.id, now, _device_doc(device))
        self._cache.pop(requester.token_hash, None)
        session = Session.model_validate({**doc, "user_id": user.id, "device": _device_doc(device),
                                          "created_at": now, "updated_at": now})
        await self._start_family(session, with_token=False)
        await self._note_device(session)
        return await self._users.touch(user)

    async def logout(self, requester: Requester) -> None:
        """`DELETE /login`: the session stays an application session; the user's login on it
        ends (refresh token, XMPP connections)."""
        if not requester.is_user:
            raise ForbiddenError("You are not logged in")
        await self._sessions.set_user(requester.token_hash, 0, self._clock.now())
        self._cache.pop(requester.token_hash, None)
        await self._refresh.delete_ids(requester.app_id, requester.user_id, [requester.session_id])
        await self._publish_ended(requester.app_id, requester.user_id, [requester.session_id])

    async def forget_user(self, app_id: int, user_id: int) -> None:
        """Ends every session of a user (account deleted), with its XMPP connections."""
        ids = {doc["id"] for doc in await self._sessions.find_for_user(app_id, user_id)}
        ids |= {doc["_id"] for doc in await self._refresh.find_for_user(app_id, user_id)}
        await self._sessions.delete_for_user(app_id, user_id)
        await self._refresh.delete_for_user(app_id, user_id)
        await self._devices.delete_for_user(app_id, user_id)
        for key, (req, _) in list(self._cache.items()):
            if req.app_id == app_id and req.user_id == user_id:
                self._cache.pop(key, None)
        await self._publish_ended(app_id, user_id, sorted(ids))

    # -- XMPP server auth ---------------------------------------------------------------------
    async def check_xmpp_password(self, username: str, password: str) -> bool:
        """`username` is `{userId}-{appId}`; the password is a live session token of that user or
        the user's own password."""
        return await self.xmpp_login(username, password) is not None

    async def xmpp_login(self, username: str, password: str) -> int | None:
        """An XMPP login's session: the session id when the password is a live session token of
        that user, 0 when it is the user's own password, None when refused. The auth module keeps
        the id on the connection, so ending the session closes it (docs/xmpp.md)."""
        ids = parse_user_local(username)
        if ids is None:
            return None
        app_id, user_id = ids
        if not password:
            return None
        try:
            requester = await self.resolve(password)
            if requester.app_id == app_id and requester.user_id == user_id:
                return requester.session_id
        except SessionMissingError:
            pass
        try:
            user = await self._users.get_entity(app_id, user_id)
        except NotFoundError:
            return None
        return 0 if await self._users.check_password(user, password) else None


def _aware(value: datetime) -> datetime:
    """The store may hand datetimes back naive (UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
