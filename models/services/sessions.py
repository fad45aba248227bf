"""Sessions: application sessions, user sessions, sliding expiry, login / logout on a session."""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta

from config.settings import SessionSettings
from models.clock import Clock
from models.errors import ForbiddenError, InvalidError, NotFoundError, SessionMissingError, UnauthenticatedError
from models.jids import parse_user_local
from models.requester import Requester
from models.services.users import UserService
from models.storage.apps import AppStore
from models.storage.counters import CounterStore
from models.storage.sessions import SessionStore
from models.users import Credentials, GuestLogin, Session, SessionRequest, User

logger = logging.getLogger(__name__)

# How long a resolved token is trusted from this process's memory before the store is read again
# (and the sliding expiry pushed forward). Revocation on another instance shows within this time.
CACHE_SECONDS = 10.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    def __init__(self, sessions: SessionStore, apps: AppStore, counters: CounterStore,
                 users: UserService, clock: Clock, settings: SessionSettings) -> None:
        self._sessions = sessions
        self._apps = apps
        self._counters = counters
        self._users = users
        self._clock = clock
        self._settings = settings
        self._cache: dict[str, tuple[Requester, float]] = {}

    # -- creation -----------------------------------------------------------------------------
    async def create(self, request: SessionRequest, address: str | None = None) -> tuple[Session, User | None]:
        """`address`: where the request came from (per-address login limits)."""
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
        session = await self._open(app_id, user.id if user else 0, guest)
        if user:
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

    async def _open(self, app_id: int, user_id: int, guest: bool) -> Session:
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        ttl = self._settings.guest_ttl_seconds if guest else self._settings.ttl_seconds
        doc = {
            "_id": hash_token(token),
            "id": await self._counters.next("sessions"),
            "app_id": app_id,
            "user_id": user_id,
            "is_guest": guest,
            "created_at": now,
            "updated_at": now,
            "expires_at": now + timedelta(seconds=ttl),
        }
        await self._sessions.insert(doc)
        return Session.model_validate({**doc, "token": token})

    # -- resolution ---------------------------------------------------------------------------
    async def resolve(self, token: str | None) -> Requester:
        """A live session's requester, or SessionMissingError (401, the SDK's exact wording)."""
        if not token or len(token) > 512:
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
        await self._sessions.delete(requester.token_hash)
        self._cache.pop(requester.token_hash, None)

    # -- login / logout on an existing session --------------------------------------------------
    async def login(self, requester: Requester, credentials: Credentials,
                    address: str | None = None) -> User:
        user = await self._users.authenticate(requester.app_id, credentials, address)
        await self._sessions.set_user(requester.token_hash, user.id, self._clock.now())
        self._cache.pop(requester.token_hash, None)
        return await self._users.touch(user)

    async def logout(self, requester: Requester) -> None:
        if not requester.is_user:
            raise ForbiddenError("You are not logged in")
        await self._sessions.set_user(requester.token_hash, 0, self._clock.now())
        self._cache.pop(requester.token_hash, None)

    async def forget_user(self, app_id: int, user_id: int) -> None:
        """Ends every session of a user (account deleted)."""
        await self._sessions.delete_for_user(app_id, user_id)
        for key, (req, _) in list(self._cache.items()):
            if req.app_id == app_id and req.user_id == user_id:
                self._cache.pop(key, None)

    # -- XMPP server auth ---------------------------------------------------------------------
    async def check_xmpp_password(self, username: str, password: str) -> bool:
        """`username` is `{userId}-{appId}`; the password is a live session token of that user or
        the user's own password."""
        ids = parse_user_local(username)
        if ids is None:
            return False
        app_id, user_id = ids
        if not password:
            return False
        try:
            requester = await self.resolve(password)
            if requester.app_id == app_id and requester.user_id == user_id:
                return True
        except SessionMissingError:
            pass
        try:
            user = await self._users.get_entity(app_id, user_id)
        except NotFoundError:
            return False
        return await self._users.check_password(user, password)
