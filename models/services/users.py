"""Users: sign-up, authentication, profile reads and lists, self update / delete, resets.

The commands (models/users.py) arrive typed; the rules live here: lengths, e-mail format,
uniqueness, the password policy, and who may change whom."""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from config.settings import RateLimitSettings
from models.clock import Clock
from models.errors import (ConflictError, ForbiddenError, InvalidError, NotFoundError,
                           RateLimitedError, UnauthenticatedError)
from models.events import Event, EventPublisher
from models.requester import Requester
from models.services.passwords import hash_password, verify_password
from models.services.rate_limits import RateLimitService
from models.storage.address_book import AddressBookStore
from models.storage.counters import CounterStore
from models.storage.users import UserStore
from models.users import Credentials, LookupField, User, UserChanges, UserDraft, UserQuery

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STRING_FIELDS = {  # profile field → max length
    "full_name": 200, "phone": 50, "website": 500, "custom_data": 16 * 1024,
    "external_id": 200, "facebook_id": 100, "twitter_id": 100, "avatar": 2000,
}
INT_FIELDS = ("external_user_id", "blob_id", "timezone")
PROFILE_FIELDS = (*STRING_FIELDS, *INT_FIELDS, "user_tags")
LOGIN_MAX, EMAIL_MAX, LOGIN_MIN = 50, 250, 3
GUEST_NAME_MAX = 200
MAX_TAGS = 10
TAG_MAX = 100


class UserService:
    def __init__(self, users: UserStore, counters: CounterStore, clock: Clock,
                 publisher: EventPublisher, max_list_limit: int = 100,
                 rate_limits: RateLimitService | None = None,
                 address_books: AddressBookStore | None = None) -> None:
        self._users = users
        # a deleted account's address books go with it (models/services/address_book.py)
        self._address_books = address_books
        self._rate_limits = rate_limits or RateLimitService(RateLimitSettings())
        self._counters = counters
        self._clock = clock
        self._publisher = publisher
        self._max_limit = max_list_limit

    # -- creation and authentication -------------------------------------------------------------
    async def signup(self, app_id: int, draft: UserDraft, address: str | None = None) -> User:
        """`address`: where the request came from, for the sign-ups-per-address limit."""
        self._rate_limits.signup(address)
        login = _text(draft.login, "login", LOGIN_MAX)
        email = _email(draft.email)
        if login is not None and len(login) < LOGIN_MIN:
            raise InvalidError(f"is too short (minimum is {LOGIN_MIN} characters)", field="login")
        if login is None and email is None:
            raise InvalidError("login or email required", field="base")
        _check_password(draft.password)
        if login is not None and await self._users.find_one(app_id, login=login):
            raise InvalidError("has already been taken", field="login")
        if email is not None and await self._users.find_one(app_id, email=email):
            raise InvalidError("has already been taken", field="email")
        now = self._clock.now()
        doc: dict[str, Any] = {
            "_id": await self._counters.next("users"),
            "app_id": app_id,
            "login": login,
            "email": email,
            "password_hash": await hash_password(draft.password),
            "created_at": now,
            "updated_at": now,
            "last_request_at": None,
            "is_guest": False,
        }
        doc.update(_profile({name: getattr(draft, name) for name in PROFILE_FIELDS
                             if getattr(draft, name) is not None}))
        try:
            await self._users.insert({k: v for k, v in doc.items() if v is not None or k in ("last_request_at",)})
        except ConflictError as exc:
            raise InvalidError("has already been taken", field="login" if login else "email") from exc
        await self._created(doc)
        return User.model_validate(doc)

    async def create_guest(self, app_id: int, full_name: str | None) -> User:
        now = self._clock.now()
        name = full_name[:GUEST_NAME_MAX] if full_name else "Guest"
        doc = {"_id": await self._counters.next("users"), "app_id": app_id, "full_name": name,
               "is_guest": True, "created_at": now, "updated_at": now, "last_request_at": now}
        await self._users.insert(doc)
        await self._created(doc)
        return User.model_validate(doc)

    async def _created(self, doc: dict[str, Any]) -> None:
        """`user_created` (webhooks): who the user is, never the password's hash."""
        user = {k: doc.get(k) for k in CREATED_FIELDS}
        await self._publisher.publish(Event(kind="user_created", app_id=doc["app_id"],
                                            sender_id=doc["_id"], payload={"user": user}))

    async def authenticate(self, app_id: int, credentials: Credentials, address: str | None = None) -> User:
        """The user with these credentials, or UnauthenticatedError. Failures count against the
        login and against `address` (where the attempt came from); past either limit the attempt
        is refused before the password is checked."""
        password = credentials.password
        if not password:
            raise InvalidError("can't be blank", field="password")
        if credentials.login:
            doc = await self._users.find_one(app_id, login=credentials.login)
            identity = f"login:{credentials.login}"
        elif credentials.email:
            email = credentials.email.strip().lower()
            doc = await self._users.find_one(app_id, email=email)
            identity = f"email:{email}"
        else:
            raise InvalidError("login or email required", field="base")
        if doc is not None:
            identity = f"user:{doc['_id']}"  # one count per account, whichever name was used
        self._rate_limits.check_login(app_id, identity, address)
        if doc is None or not await verify_password(doc.get("password_hash"), password):
            self._rate_limits.login_failed(app_id, identity, address)
            raise UnauthenticatedError("Unauthorized")
        return User.model_validate(doc)

    async def check_password(self, user: User, password: str) -> bool:
        """Whether `password` is the user's (XMPP password auth), failures counted like logins'
        but apart from them: a client retrying an expired session token (the XMPP server tries
        the token as a password too) locks its XMPP password logins, not the REST ones. Past the
        limit the answer is no without checking."""
        identity = f"xmpp:{user.id}"
        try:
            self._rate_limits.check_login(user.app_id, identity, None)
        except RateLimitedError:
            return False
        if await verify_password(user.password_hash, password):
            return True
        self._rate_limits.login_failed(user.app_id, identity, None)
        return False

    async def touch(self, user: User) -> User:
        now = self._clock.now()
        await self._users.touch(user.app_id, user.id, now)
        return user.model_copy(update={"last_request_at": now})

    # -- reads ---------------------------------------------------------------------------------
    async def get_entity(self, app_id: int, user_id: int) -> User:
        doc = await self._users.get(app_id, user_id)
        if doc is None:
            raise NotFoundError("User not found")
        return User.model_validate(doc)

    async def get(self, requester: Requester, user_id: int) -> User:
        return await self.get_entity(requester.app_id, user_id)

    async def get_many(self, app_id: int, ids: list[int]) -> list[User]:
        return [User.model_validate(d) for d in await self._users.get_many(app_id, ids)]

    async def find_by(self, requester: Requester, field: LookupField, value: str | int) -> User:
        """The user whose `field` equals `value` (emails compare case-insensitively)."""
        if field == "email" and isinstance(value, str):
            value = value.strip().lower()
        doc = await self._users.find_one(requester.app_id, **{field: value})
        if doc is None:
            raise NotFoundError("User not found")
        return User.model_validate(doc)

    async def list(self, requester: Requester, query: UserQuery) -> tuple[list[User], int, int, int]:
        """Filtered list: (users, total, skip, limit); the limit is capped by the settings."""
        limit = min(query.limit, self._max_limit)
        docs = await self._users.page(requester.app_id, query.conditions, query.sort, query.skip, limit)
        total = await self._users.count_matching(requester.app_id, query.conditions)
        return [User.model_validate(d) for d in docs], total, query.skip, limit

    # -- self service --------------------------------------------------------------------------
    async def update_self(self, requester: Requester, user_id: int | None, changes: UserChanges) -> User:
        """`user_id` is the id the caller named (None: the caller); only one's own profile."""
        _require_user(requester)
        if user_id is not None and user_id != requester.user_id:
            raise ForbiddenError("You can update only your own profile")
        given = changes.model_fields_set
        current = await self.get_entity(requester.app_id, requester.user_id)
        fields = _profile({name: getattr(changes, name) for name in PROFILE_FIELDS if name in given})
        if "login" in given:
            login = _text(changes.login, "login", LOGIN_MAX)
            if login is not None and len(login) < LOGIN_MIN:
                raise InvalidError(f"is too short (minimum is {LOGIN_MIN} characters)", field="login")
            if login and login != current.login and await self._users.find_one(requester.app_id, login=login):
                raise InvalidError("has already been taken", field="login")
            fields["login"] = login
        if "email" in given:
            email = _email(changes.email)
            if email is not None and email != current.email and await self._users.find_one(
                    requester.app_id, email=email):
                raise InvalidError("has already been taken", field="email")
            fields["email"] = email
        if changes.password not in (None, ""):
            _check_password(changes.password)
            if current.password_hash and not await verify_password(
                    current.password_hash, changes.old_password or ""):
                raise InvalidError("is incorrect", field="old_password")
            fields["password_hash"] = await hash_password(changes.password)
        fields["updated_at"] = self._clock.now()
        try:
            doc = await self._users.set_fields(requester.app_id, requester.user_id, fields)
        except ConflictError as exc:
            raise InvalidError("has already been taken", field="login") from exc
        if doc is None:
            raise NotFoundError("User not found")
        return User.model_validate(doc)

    async def delete_self(self, requester: Requester, user_id: int | None) -> None:
        _require_user(requester)
        if user_id is not None and user_id != requester.user_id:
            raise ForbiddenError("You can delete only your own account")
        if not await self._users.delete(requester.app_id, requester.user_id):
            raise NotFoundError("User not found")
        if self._address_books is not None:
            await self._address_books.delete_user(requester.app_id, requester.user_id)
        await self._publisher.publish(Event(kind="user_deleted", app_id=requester.app_id,
                                            sender_id=requester.user_id))

    async def request_password_reset(self, app_id: int, email: str | None) -> None:
        """Records a one-time reset token (hashed) and publishes `password_reset_requested` for the
        operator's mail hook. Answers the same whether or not the address exists."""
        if not isinstance(email, str) or not EMAIL_RE.match(email.strip()):
            raise InvalidError("is invalid", field="email")
        doc = await self._users.find_one(app_id, email=email.strip().lower())
        if doc is None:
            return
        token = secrets.token_urlsafe(24)
        expires = self._clock.now() + timedelta(hours=1)
        await self._users.set_fields(app_id, doc["_id"], {
            "password_reset": {"token_hash": hashlib.sha256(token.encode()).hexdigest(),
                               "expires_at": expires}})
        await self._publisher.publish(Event(kind="password_reset_requested", app_id=app_id,
                                            recipient_ids=[doc["_id"]],
                                            payload={"email": doc["email"], "token": token}))


# what a `user_created` event says of the new user (docs/webhooks.md)
CREATED_FIELDS = ("_id", "login", "email", "full_name", "phone", "external_user_id", "is_guest",
                  "created_at")


def _require_user(requester: Requester) -> None:
    if not requester.is_user:
        raise ForbiddenError("A user session is required")


def _check_password(password: str | None) -> None:
    if not password:
        raise InvalidError("can't be blank", field="password")
    if len(password) < 8:
        raise InvalidError("is too short (minimum is 8 characters)", field="password")
    if len(password) > 128:
        raise InvalidError("is too long (maximum is 128 characters)", field="password")


def _text(value: str | None, field: str, max_len: int) -> str | None:
    if value is not None and len(value) > max_len:
        raise InvalidError(f"is too long (maximum is {max_len} characters)", field=field)
    return value or None


def _email(value: str | None) -> str | None:
    email = _text(value, "email", EMAIL_MAX)
    if email is None:
        return None
    email = email.lower()
    if not EMAIL_RE.match(email):
        raise InvalidError("is invalid", field="email")
    return email


def _profile(given: dict[str, Any]) -> dict[str, Any]:
    """The stored form of the given profile fields, within their limits (`None` clears)."""
    out: dict[str, Any] = {}
    for key, max_len in STRING_FIELDS.items():
        if key in given:
            out[key] = _text(given[key], key, max_len)
    for key in INT_FIELDS:
        if key in given:
            out[key] = given[key]
    if "user_tags" in given:
        tags = [tag[:TAG_MAX] for tag in given["user_tags"] or ()]
        if len(tags) > MAX_TAGS:
            raise InvalidError(f"too many tags (maximum is {MAX_TAGS})", field="tag_list")
        out["user_tags"] = tags
    return out
