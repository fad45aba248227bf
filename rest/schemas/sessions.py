"""Sessions on the wire: `POST /session` and `POST /login` bodies → SessionRequest / Credentials
(with the Device they name), `POST /session/refresh` → the refresh token, a listed session →
JSON. (Session ↔ JSON is `session_to_json` in rest/schemas/users.py, next to the user it embeds.)"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from models.errors import InvalidError
from models.lax import cast_int
from models.messages import iso
from models.users import Credentials, Device, GuestLogin, SessionInfo, SessionRequest
from rest.schemas.common import read_body

MAX_DEVICE_FIELD = 256  # longer device ids, platforms and user agents are cut

GUEST_FLAGS = ("1", "true", "True")


class CredentialsBody(BaseModel):
    """`{login | email, password}`: what is missing or not text is left for the service to name
    (`can't be blank`, `login or email required`), after the application's credentials."""
    model_config = ConfigDict(extra="ignore")

    login: str | None = None
    email: str | None = None
    password: str | None = None

    @field_validator("login", "email", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str | None:
        return str(value) if value else None

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def to_command(self) -> Credentials:
        return Credentials(login=self.login, email=self.email, password=self.password)


class CreateSessionBody(BaseModel):
    """`{application_id, auth_key, [user: {login|email, password} | {guest: 1, full_name}],
    [provider]}`; `application_id` may be a string."""
    model_config = ConfigDict(extra="ignore")

    application_id: Any = None
    auth_key: Any = None
    provider: Any = None
    user: Any = None

    def to_command(self) -> SessionRequest:
        if self.application_id in (None, ""):
            raise InvalidError("can't be blank", field="application_id")
        if not self.auth_key or not isinstance(self.auth_key, str):
            raise InvalidError("can't be blank", field="auth_key")
        try:
            application_id = cast_int(self.application_id)
        except (ValueError, TypeError) as exc:
            raise InvalidError("must be an integer", field="application_id") from exc
        user: Credentials | GuestLogin | None = None
        if self.user is not None:
            if not isinstance(self.user, dict):
                raise InvalidError("must be an object", field="user")
            if str(self.user.get("guest", "")) in GUEST_FLAGS:
                full_name = self.user.get("full_name")
                user = GuestLogin(full_name=str(full_name) if full_name else None)
            else:
                user = read_body(CredentialsBody, self.user).to_command()
        return SessionRequest(application_id=application_id, auth_key=self.auth_key,
                              provider=str(self.provider) if self.provider else None, user=user)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:MAX_DEVICE_FIELD] or None


def device_from(body: dict[str, Any], user_agent: str | None) -> Device:
    """`udid` or `device_id` and `platform`, at the top level or under `device`, and the
    `User-Agent` header."""
    nested = body.get("device") if isinstance(body.get("device"), dict) else {}
    udid = next((value for value in (_text(body.get("udid")), _text(body.get("device_id")),
                                     _text(nested.get("udid")), _text(nested.get("device_id")))
                 if value), None)
    platform = _text(body.get("platform")) or _text(nested.get("platform"))
    return Device(udid=udid, platform=platform, user_agent=_text(user_agent))


def session_request(body: dict[str, Any], user_agent: str | None = None) -> SessionRequest:
    command = read_body(CreateSessionBody, body).to_command()
    return command.model_copy(update={"device": device_from(body, user_agent)})


def refresh_token_from(body: dict[str, Any]) -> str | None:
    token = body.get("refresh_token")
    return token if isinstance(token, str) else None


def session_info_to_json(info: SessionInfo) -> dict[str, Any]:
    return {"id": info.id, "device": info.device.model_dump(), "created_at": iso(info.created_at),
            "last_used_at": iso(info.last_used_at), "current": info.current}


def login_credentials(body: dict[str, Any]) -> Credentials:
    """`POST /login`: the credentials at the top level or under `user`."""
    inner = body.get("user")
    params = inner if isinstance(inner, dict) else body
    if not params:
        raise InvalidError("login or email required", field="base")
    return read_body(CredentialsBody, params).to_command()
