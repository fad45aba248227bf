"""Users: sign-up, authentication, profile reads and filters, self update / delete, resets."""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from models.clock import Clock
from models.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, UnauthenticatedError
from models.events import Event, EventPublisher
from models.requester import Requester
from models.services.filters import (FieldSpec, build_query, cast_bool, cast_datetime, cast_int,
                                     cast_str, page_params, sort_params, split_list)
from models.services.passwords import hash_password, verify_password
from models.storage.counters import CounterStore
from models.storage.users import UserStore
from models.users import User

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STRING_FIELDS = {  # wire name → max length
    "full_name": 200, "phone": 50, "website": 500, "custom_data": 16 * 1024,
    "external_id": 200, "facebook_id": 100, "twitter_id": 100, "avatar": 2000,
}
INT_FIELDS = ("external_user_id", "blob_id", "timezone")
MAX_TAGS = 10

USER_FILTERS = {
    "id": FieldSpec(cast_int, "_id"),
    "login": FieldSpec(cast_str),
    "email": FieldSpec(lambda v: cast_str(v).strip().lower()),
    "full_name": FieldSpec(cast_str),
    "phone": FieldSpec(cast_str),
    "external_id": FieldSpec(cast_str),
    "external_user_id": FieldSpec(cast_int),
    "facebook_id": FieldSpec(cast_str),
    "twitter_id": FieldSpec(cast_str),
    "user_tags": FieldSpec(cast_str),
    "created_at": FieldSpec(cast_datetime),
    "updated_at": FieldSpec(cast_datetime),
    "last_request_at": FieldSpec(cast_datetime),
    "is_guest": FieldSpec(cast_bool),
}
USER_SORTS = {name: (spec.db_field or name) for name, spec in USER_FILTERS.items()}


class UserService:
    def __init__(self, users: UserStore, counters: CounterStore, clock: Clock,
                 publisher: EventPublisher, max_list_limit: int = 100) -> None:
        self._users = users
        self._counters = counters
        self._clock = clock
        self._publisher = publisher
        self._max_limit = max_list_limit

    # -- creation and authentication -------------------------------------------------------------
    async def signup(self, app_id: int, params: Any) -> User:
        if not isinstance(params, dict):
            raise InvalidError("must be an object", field="user")
        login = _opt_str(params, "login", 50)
        email = _opt_str(params, "email", 250)
        if email is not None:
            email = email.lower()
            if not EMAIL_RE.match(email):
                raise InvalidError("is invalid", field="email")
        if login is not None and len(login) < 3:
            raise InvalidError("is too short (minimum is 3 characters)", field="login")
        if login is None and email is None:
            raise InvalidError("login or email required", field="base")
        password = params.get("password")
        _check_password(password)
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
            "password_hash": await hash_password(password),
            "created_at": now,
            "updated_at": now,
            "last_request_at": None,
            "is_guest": False,
        }
        doc.update(_profile_fields(params))
        try:
            await self._users.insert({k: v for k, v in doc.items() if v is not None or k in ("last_request_at",)})
        except ConflictError as exc:
            raise InvalidError("has already been taken", field="login" if login else "email") from exc
        return User.model_validate(doc)

    async def create_guest(self, app_id: int, full_name: Any) -> User:
        now = self._clock.now()
        name = str(full_name)[:200] if full_name else "Guest"
        doc = {"_id": await self._counters.next("users"), "app_id": app_id, "full_name": name,
               "is_guest": True, "created_at": now, "updated_at": now, "last_request_at": now}
        await self._users.insert(doc)
        return User.model_validate(doc)

    async def authenticate(self, app_id: int, credentials: Any) -> User:
        if not isinstance(credentials, dict):
            raise InvalidError("must be an object", field="user")
        password = credentials.get("password")
        if not isinstance(password, str) or not password:
            raise InvalidError("can't be blank", field="password")
        doc = None
        if credentials.get("login"):
            doc = await self._users.find_one(app_id, login=str(credentials["login"]))
        elif credentials.get("email"):
            doc = await self._users.find_one(app_id, email=str(credentials["email"]).strip().lower())
        else:
            raise InvalidError("login or email required", field="base")
        if doc is None or not await verify_password(doc.get("password_hash"), password):
            raise UnauthenticatedError("Unauthorized")
        return User.model_validate(doc)

    async def check_password(self, user: User, password: str) -> bool:
        return await verify_password(user.password_hash, password)

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

    async def get(self, requester: Requester, user_id: Any) -> User:
        try:
            uid = cast_int(user_id)
        except (ValueError, TypeError) as exc:
            raise NotFoundError("User not found") from exc
        return await self.get_entity(requester.app_id, uid)

    async def get_many(self, app_id: int, ids: list[int]) -> list[User]:
        return [User.model_validate(d) for d in await self._users.get_many(app_id, ids)]

    async def find_by(self, requester: Requester, field: str, value: Any) -> User:
        if value in (None, ""):
            raise InvalidError("can't be blank", field=field)
        if field == "email":
            value = str(value).strip().lower()
        elif field == "external_user_id":
            try:
                value = cast_int(value)
            except (ValueError, TypeError) as exc:
                raise NotFoundError("User not found") from exc
        else:
            value = str(value)
        doc = await self._users.find_one(requester.app_id, **{field: value})
        if doc is None:
            raise NotFoundError("User not found")
        return User.model_validate(doc)

    async def list(self, requester: Requester, params: dict[str, Any]) -> tuple[list[User], int, int, int]:
        """Filtered list: (users, total, skip, limit). `offset`/`skip` and `page`/`per_page` work."""
        query = build_query(params, USER_FILTERS)
        if "tags" in params:  # legacy by_tags
            query["user_tags"] = {"$in": [str(t) for t in split_list(params["tags"])]}
        if "per_page" in params or "page" in params:
            try:
                per_page = min(cast_int(params.get("per_page") or 10), self._max_limit)
                page = max(cast_int(params.get("page") or 1), 1)
            except (ValueError, TypeError) as exc:
                raise InvalidError("must be an integer", field="page") from exc
            skip, limit = (page - 1) * per_page, per_page
        else:
            skip, limit = page_params(params, 10, self._max_limit)
        sort = sort_params(params, USER_SORTS, [("_id", 1)])
        docs = await self._users.find(requester.app_id, query, sort, skip, limit)
        total = await self._users.count(requester.app_id, query)
        return [User.model_validate(d) for d in docs], total, skip, limit

    # -- self service --------------------------------------------------------------------------
    async def update_self(self, requester: Requester, user_id: Any, params: Any) -> User:
        _require_user(requester)
        if user_id is not None:
            try:
                target = cast_int(user_id)
            except (ValueError, TypeError) as exc:
                raise NotFoundError("User not found") from exc
            if target != requester.user_id:
                raise ForbiddenError("You can update only your own profile")
        if not isinstance(params, dict):
            raise InvalidError("must be an object", field="user")
        current = await self.get_entity(requester.app_id, requester.user_id)
        changes = _profile_fields(params)
        if "login" in params:
            login = _opt_str(params, "login", 50)
            if login is not None and len(login) < 3:
                raise InvalidError("is too short (minimum is 3 characters)", field="login")
            if login and login != current.login and await self._users.find_one(requester.app_id, login=login):
                raise InvalidError("has already been taken", field="login")
            changes["login"] = login
        if "email" in params:
            email = _opt_str(params, "email", 250)
            if email is not None:
                email = email.lower()
                if not EMAIL_RE.match(email):
                    raise InvalidError("is invalid", field="email")
                if email != current.email and await self._users.find_one(requester.app_id, email=email):
                    raise InvalidError("has already been taken", field="email")
            changes["email"] = email
        if params.get("password") not in (None, ""):
            _check_password(params.get("password"))
            if current.password_hash and not await verify_password(
                    current.password_hash, str(params.get("old_password") or "")):
                raise InvalidError("is incorrect", field="old_password")
            changes["password_hash"] = await hash_password(params["password"])
        changes["updated_at"] = self._clock.now()
        unset = [k for k, v in changes.items() if v is None]
        sets = {k: v for k, v in changes.items() if v is not None}
        try:
            doc = await self._users.update(requester.app_id, requester.user_id, sets, unset)
        except ConflictError as exc:
            raise InvalidError("has already been taken", field="login") from exc
        if doc is None:
            raise NotFoundError("User not found")
        return User.model_validate(doc)

    async def delete_self(self, requester: Requester, user_id: Any) -> None:
        _require_user(requester)
        if user_id is not None:
            try:
                target = cast_int(user_id)
            except (ValueError, TypeError) as exc:
                raise NotFoundError("User not found") from exc
            if target != requester.user_id:
                raise ForbiddenError("You can delete only your own account")
        if not await self._users.delete(requester.app_id, requester.user_id):
            raise NotFoundError("User not found")
        await self._publisher.publish(Event(kind="user_deleted", app_id=requester.app_id,
                                            sender_id=requester.user_id))

    async def request_password_reset(self, app_id: int, email: Any) -> None:
        """Records a one-time reset token (hashed) and publishes `password_reset_requested` for the
        operator's mail hook. Answers the same whether or not the address exists."""
        if not isinstance(email, str) or not EMAIL_RE.match(email.strip()):
            raise InvalidError("is invalid", field="email")
        doc = await self._users.find_one(app_id, email=email.strip().lower())
        if doc is None:
            return
        token = secrets.token_urlsafe(24)
        expires = self._clock.now() + timedelta(hours=1)
        await self._users.update(app_id, doc["_id"], {
            "password_reset": {"token_hash": hashlib.sha256(token.encode()).hexdigest(),
                               "expires_at": expires}})
        await self._publisher.publish(Event(kind="password_reset_requested", app_id=app_id,
                                            recipient_ids=[doc["_id"]],
                                            payload={"email": doc["email"], "token": token}))


def _require_user(requester: Requester) -> None:
    if not requester.is_user:
        raise ForbiddenError("A user session is required")


def _check_password(password: Any) -> None:
    if not isinstance(password, str) or not password:
        raise InvalidError("can't be blank", field="password")
    if len(password) < 8:
        raise InvalidError("is too short (minimum is 8 characters)", field="password")
    if len(password) > 128:
        raise InvalidError("is too long (maximum is 128 characters)", field="password")


def _opt_str(params: dict[str, Any], key: str, max_len: int) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidError("must be a string", field=key)
    text = str(value).strip()
    if len(text) > max_len:
        raise InvalidError(f"is too long (maximum is {max_len} characters)", field=key)
    return text or None


def _profile_fields(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, max_len in STRING_FIELDS.items():
        if key in params:
            value = params[key]
            if isinstance(value, (dict, list)) and key == "custom_data":
                import json
                value = json.dumps(value)
            out[key] = _opt_str({key: value}, key, max_len)
    for key in INT_FIELDS:
        if key in params:
            value = params[key]
            if value in (None, ""):
                out[key] = None
                continue
            try:
                out[key] = cast_int(value)
            except (ValueError, TypeError) as exc:
                raise InvalidError("must be an integer", field=key) from exc
    if "tag_list" in params or "user_tags" in params:
        raw = params.get("tag_list", params.get("user_tags"))
        tags = [str(t).strip()[:100] for t in split_list(raw)]
        if len(tags) > MAX_TAGS:
            raise InvalidError(f"too many tags (maximum is {MAX_TAGS})", field="tag_list")
        out["user_tags"] = tags
    return out
