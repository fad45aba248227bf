"""What operators do to a deployment (`chatbridge apps|users|export`, the operator admin routes):
applications and their keys, bulk user imports and history exports. Served by
models/services/operations.py; read by chatbridge/cli.py (MongoDB directly) and rest/views/operations.py
(the same service over the admin API, for the embedded store)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.users import UserDraft


@dataclass(frozen=True)
class AppInfo:
    """An application as operators see it: no secret (the auth secret and admin key are shown
    once, when made)."""

    id: int
    title: str
    auth_key: str
    created_at: datetime | None
    has_admin_key: bool
    users: int | None = None  # `show` counts them; `list` does not


@dataclass(frozen=True)
class AppKeys:
    """Keys made now, to be shown once: what a rotation did not change is None."""

    app: AppInfo
    admin_key: str | None = None
    auth_key: str | None = None
    auth_secret: str | None = None


@dataclass(frozen=True)
class ImportRow:
    """One row of a users import: its line in the operator's file and the sign-up it asks for,
    or why it could not be read (`error`, then `draft` is None)."""

    line: int
    draft: UserDraft | None = None
    error: str | None = None


@dataclass(frozen=True)
class ImportResult:
    line: int
    user_id: int | None = None  # created
    error: str | None = None  # rejected: why, as the sign-up would answer it
