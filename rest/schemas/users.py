"""Users on the wire: the lax request models (sign-up, profile update, lookups, lists) that
become the commands of models/users.py, and User ↔ JSON."""
from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from models.errors import InvalidError, NotFoundError
from models.lax import MAX_INT, cast_bool, cast_datetime, cast_int, cast_str, split_list
from models.queries import Condition, Op
from models.users import LookupField, Session, User, UserChanges, UserDraft, UserQuery
from rest.schemas.common import iso, read_body, unix
from rest.schemas.filters import FieldSpec, conditions, page_params, sort_params

_TEXT_FIELDS = ("login", "email", "full_name", "phone", "website", "custom_data", "external_id",
                "facebook_id", "twitter_id", "avatar")
_INT_FIELDS = ("external_user_id", "blob_id", "timezone")


class UserBody(BaseModel):
    """The `user` object of `POST /users` and `PUT /users/{id}`: numbers may be strings, text
    may be numbers, `custom_data` may be a JSON value, tags a comma list or an array."""
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    login: str | None = None
    email: str | None = None
    password: Any = None
    old_password: Any = None
    full_name: str | None = None
    phone: str | None = None
    website: str | None = None
    custom_data: str | None = None
    external_id: str | None = None
    facebook_id: str | None = None
    twitter_id: str | None = None
    avatar: str | None = None
    external_user_id: int | None = None
    blob_id: int | None = None
    timezone: int | None = None
    tag_list: tuple[str, ...] | None = None
    user_tags: tuple[str, ...] | None = None

    @field_validator(*_TEXT_FIELDS, mode="before")
    @classmethod
    def _text(cls, value: Any, info: ValidationInfo) -> str | None:
        if info.field_name == "custom_data" and isinstance(value, (dict, list)):
            value = json.dumps(value)
        if value is None or value == "":
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise InvalidError("must be a string", field=info.field_name)
        return str(value).strip()

    @field_validator(*_INT_FIELDS, mode="before")
    @classmethod
    def _int(cls, value: Any, info: ValidationInfo) -> int | None:
        if value in (None, ""):
            return None
        try:
            return cast_int(value)
        except (ValueError, TypeError) as exc:
            raise InvalidError("must be an integer", field=info.field_name) from exc

    @field_validator("tag_list", "user_tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> tuple[str, ...]:
        return tuple(str(t).strip() for t in split_list(value))

    def _given(self) -> dict[str, Any]:
        given = {name: getattr(self, name) for name in self.model_fields_set
                 if name not in ("tag_list", "user_tags", "password", "old_password")}
        if "tag_list" in self.model_fields_set or "user_tags" in self.model_fields_set:
            given["user_tags"] = self.tag_list if "tag_list" in self.model_fields_set else self.user_tags
        return given

    def to_draft(self) -> UserDraft:
        password = self.password if isinstance(self.password, str) else None
        return UserDraft(**self._given(), password=password)

    def to_changes(self) -> UserChanges:
        given = self._given()
        if self.password not in (None, ""):
            if not isinstance(self.password, str):
                raise InvalidError("can't be blank", field="password")
            given["password"] = self.password
            given["old_password"] = str(self.old_password or "")
        return UserChanges(**given)


def user_body(value: Any) -> UserBody:
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field="user")
    return read_body(UserBody, value)


def user_id_from_path(raw: str | None) -> int | None:
    """The `{user_id}` of a path (absent: None); one that is not a number names no user."""
    if raw is None:
        return None
    try:
        return cast_int(raw)
    except (ValueError, TypeError) as exc:
        raise NotFoundError("User not found") from exc


def lookup_value(field: LookupField, raw: Any) -> str | int:
    """The value of `GET /users/by_<field>?<field>=...` (or `/users/external/{id}`)."""
    if raw in (None, ""):
        raise InvalidError("can't be blank", field=field)
    if field == "external_user_id":
        try:
            return cast_int(raw)
        except (ValueError, TypeError) as exc:
            raise NotFoundError("User not found") from exc
    return str(raw)


# -- lists -------------------------------------------------------------------------------------------
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


def page_number(params: dict[str, Any], key: str, default: int, minimum: int | None = None) -> int:
    """`page` / `per_page` as an integer (missing or empty: `default`); not an integer, outside
    the store's range or below `minimum`: a 422 naming it."""
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        number = cast_int(value)
    except (ValueError, TypeError) as exc:
        raise InvalidError("must be an integer", field=key) from exc
    if minimum is not None and number < minimum:
        raise InvalidError(f"must be at least {minimum}", field=key)
    return number


def user_query(params: dict[str, Any], max_limit: int) -> UserQuery:
    """`GET /users/v2` parameters: filters (`field[op]=value`), `tags` (any of), `sort_asc` /
    `sort_desc`, and `limit` + `skip`/`offset` or `page` + `per_page` (default 10 a page)."""
    found = conditions(params, USER_FILTERS)
    if "tags" in params:  # legacy by_tags: replaces a user_tags filter
        found = [c for c in found if c.field != "user_tags"]
        found.append(Condition("user_tags", Op.in_, tuple(str(t) for t in split_list(params["tags"]))))
    if "per_page" in params or "page" in params:
        per_page = min(page_number(params, "per_page", 10, minimum=1), max_limit)
        page = max(page_number(params, "page", 1), 1)  # 0 and below: the first page, as before
        skip, limit = (page - 1) * per_page, per_page
        if skip > MAX_INT:
            raise InvalidError("is too large", field="page")
    else:
        skip, limit = page_params(params, 10, max_limit)
    sort = sort_params(params, USER_SORTS, (("_id", 1),))
    return UserQuery(conditions=tuple(found), sort=sort or (("_id", 1),), skip=skip, limit=limit)


_LEGACY_FILTER = re.compile(r"^\s*(\w+)\s+(\w+)\s+(\w+)\s+(.*)$")


def legacy_user_query(params: dict[str, Any], max_limit: int) -> UserQuery:
    """`GET /users`: `filter[]=number id in 1,2` (type, field, operator, value), `order=asc string
    id`, `page`, `per_page`, `tags`; read as the same filters as `GET /users/v2`."""
    translated: dict[str, Any] = {k: v for k, v in params.items()
                                  if k in ("page", "per_page", "tags")}
    raw = params.get("filter")
    for item in raw if isinstance(raw, list) else split_list(raw):
        match = _LEGACY_FILTER.match(str(item))
        if not match:
            raise InvalidError("is invalid", field="filter")
        _, field, op, value = match.groups()
        translated[field] = {op: value} if op not in ("eq",) else value
    order = params.get("order")
    if isinstance(order, str) and order.split():
        parts = order.split()
        translated["sort_desc" if parts[0] == "desc" else "sort_asc"] = parts[-1]
    return user_query(translated, max_limit)


# -- responses ---------------------------------------------------------------------------------------


def user_to_json(user: User, activity: bool = True) -> dict[str, Any]:
    """The ConnectyCube User; `activity=False`: without `last_request_at` (null), for a viewer
    with a block between them and this user (neither sees the other's last activity)."""
    return {
        "id": user.id,
        "full_name": user.full_name,
        "email": user.email,
        "login": user.login,
        "phone": user.phone,
        "website": user.website,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "last_request_at": iso(user.last_request_at) if activity else None,
        "external_user_id": user.external_user_id,
        "external_id": user.external_id,
        "facebook_id": user.facebook_id,
        "twitter_id": user.twitter_id,
        "blob_id": user.blob_id,
        "avatar": user.avatar,
        "custom_data": user.custom_data,
        "user_tags": ",".join(user.user_tags) if user.user_tags else None,
        "timezone": user.timezone,
        "is_guest": user.is_guest or None,
    }


def session_to_json(session: Session, user: User | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": session.id,
        "application_id": session.app_id,
        "user_id": session.user_id,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
        "ts": unix(session.created_at),
        "nonce": session.id,
    }
    if session.token:
        data["token"] = session.token
    data["token_expiration"] = iso(session.expires_at)
    if session.refresh_token:
        data["refresh_token"] = session.refresh_token
    if user is not None:
        data["user"] = user_to_json(user)
    return data
