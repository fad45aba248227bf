"""Sessions on the wire: `POST /session` and `POST /login` bodies → SessionRequest / Credentials.
(Session ↔ JSON is `session_to_json` in rest/schemas/users.py, next to the user it embeds.)"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from models.errors import InvalidError
from models.lax import cast_int
from models.users import Credentials, GuestLogin, SessionRequest
from rest.schemas.common import read_body

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


def session_request(body: dict[str, Any]) -> SessionRequest:
    return read_body(CreateSessionBody, body).to_command()


def login_credentials(body: dict[str, Any]) -> Credentials:
    """`POST /login`: the credentials at the top level or under `user`."""
    inner = body.get("user")
    params = inner if isinstance(inner, dict) else body
    if not params:
        raise InvalidError("login or email required", field="base")
    return read_body(CredentialsBody, params).to_command()
