"""The User and Session entities (documents of `users` and `sessions`) and the commands that
create, change, find and log them in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.queries import Condition, Sort


class User(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int = Field(alias="_id")
    app_id: int
    login: str | None = None
    email: str | None = None
    full_name: str | None = None
    phone: str | None = None
    website: str | None = None
    custom_data: str | None = None
    external_user_id: int | None = None
    external_id: str | None = None
    facebook_id: str | None = None
    twitter_id: str | None = None
    blob_id: int | None = None
    avatar: str | None = None
    user_tags: list[str] = Field(default_factory=list)
    timezone: int | None = None
    is_guest: bool = False
    password_hash: str | None = None
    created_at: datetime
    updated_at: datetime
    last_request_at: datetime | None = None


class Device(BaseModel):
    """The device a session was opened from, as the client named it at login (`udid` /
    `device_id`, `platform`) and its `User-Agent`. Every field may be missing."""
    model_config = ConfigDict(frozen=True)

    udid: str | None = None
    platform: str | None = None
    user_agent: str | None = None


class Session(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int  # the login's number: kept by the sessions a refresh makes from it
    app_id: int
    user_id: int = 0
    token: str = ""  # only set right after creation; the store keeps sha256(token)
    token_hash: str = Field(alias="_id")
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    is_guest: bool = False
    device: Device | None = None
    refresh_token: str = ""  # only set right after creation or a refresh; stored hashed


class SessionInfo(BaseModel):
    """One login of a user as `GET /sessions` lists it (never a token)."""
    model_config = ConfigDict(frozen=True)

    id: int
    device: Device
    created_at: datetime
    last_used_at: datetime
    current: bool


# -- commands ------------------------------------------------------------------------------------
# What a transport read from a request, for UserService / SessionService. Values are typed but not
# yet checked against the domain rules (lengths, formats, uniqueness, password policy): the services
# do that, so every transport gets the same answers.

class _Profile(BaseModel):
    """The profile fields a user sets on sign-up and changes later. `None` clears a field."""
    model_config = ConfigDict(frozen=True)

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
    user_tags: tuple[str, ...] | None = None


class UserDraft(_Profile):
    """A sign-up. Absent profile fields are `None`."""

    login: str | None = None
    email: str | None = None
    password: str | None = None


class UserChanges(_Profile):
    """A profile update: only the fields given (`model_fields_set`) change; a given `None` clears
    the field. A new `password` needs the `old_password` when the account has one."""

    login: str | None = None
    email: str | None = None
    password: str | None = None
    old_password: str | None = None


class Credentials(BaseModel):
    """A login: by `login` or else by `email`, with the password."""
    model_config = ConfigDict(frozen=True)

    login: str | None = None
    email: str | None = None
    password: str | None = None


class GuestLogin(BaseModel):
    """A session for a new guest user."""
    model_config = ConfigDict(frozen=True)

    full_name: str | None = None


class SessionRequest(BaseModel):
    """`POST /session`: the application's credentials and, optionally, who logs in."""
    model_config = ConfigDict(frozen=True)

    application_id: int
    auth_key: str
    provider: str | None = None  # social / phone login: refused by this server
    user: Credentials | GuestLogin | None = None
    device: Device = Device()


# The fields a single user is looked up by (`GET /users/by_login?login=...`, ...).
LookupField = Literal["login", "email", "phone", "facebook_id", "twitter_id", "external_user_id"]


@dataclass(frozen=True)
class UserQuery:
    """A filtered user list. Conditions use stored field names (`_id`, `user_tags`, ...)."""

    conditions: tuple[Condition, ...] = ()
    sort: Sort = (("_id", 1),)
    skip: int = 0
    limit: int = 10
