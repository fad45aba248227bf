"""The operators' routes (`/admin/apps...`, rest/views/operations.py) and `chatbridge` (which
prints the same JSON when it works on MongoDB directly): applications, their keys once, user
import rows and results."""
from __future__ import annotations

from typing import Any, Iterable

from models.errors import ChatError, InvalidError
from models.operations import AppInfo, AppKeys, ImportResult, ImportRow
from models.services.operations import error_text
from rest.schemas.users import user_body

MAX_IMPORT_ROWS = 1000  # per request; `chatbridge users import` sends batches below it


def app_to_json(app: AppInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"id": app.id, "title": app.title, "auth_key": app.auth_key,
                           "created_at": app.created_at.isoformat() if app.created_at else None,
                           "has_admin_api_key": app.has_admin_key}
    if app.users is not None:
        out["users"] = app.users
    return out


def app_keys_to_json(keys: AppKeys) -> dict[str, Any]:
    """The application and the keys made now (shown once: they are not stored in the clear)."""
    out = {"app": app_to_json(keys.app)}
    for name, value in (("admin_api_key", keys.admin_key), ("auth_key", keys.auth_key),
                        ("auth_secret", keys.auth_secret)):
        if value is not None:
            out[name] = value
    return out


def import_row(line: int, value: Any) -> ImportRow:
    """One user of an import, read as `POST /users` reads its `user` (same fields, same
    errors): the row, or why it cannot be used."""
    try:
        return ImportRow(line, draft=user_body(value).to_draft())
    except ChatError as exc:
        return ImportRow(line, error=error_text(exc))


def import_rows(params: dict[str, Any]) -> list[ImportRow]:
    """`{"users": [{"line": 3, "user": {...}}, ...]}` (`line`: where the row is in the
    operator's file; default its place in the list, from 1)."""
    rows = params.get("users")
    if not isinstance(rows, list) or not rows:
        raise InvalidError("must be a non-empty list", field="users")
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidError(f"at most {MAX_IMPORT_ROWS} per request", field="users")
    out = []
    for index, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            out.append(ImportRow(index, error="must be an object"))
            continue
        line = row.get("line", index)
        out.append(import_row(line if isinstance(line, int) else index, row.get("user")))
    return out


def import_results_to_json(results: Iterable[ImportResult]) -> dict[str, Any]:
    return {"results": [{"line": r.line, "id": r.user_id} if r.error is None
                        else {"line": r.line, "error": r.error} for r in results]}


# -- the OpenAPI document's models (rest/routes.py) ------------------------------------------------
from pydantic import BaseModel, ConfigDict  # noqa: E402


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppJson(_Closed):
    id: int
    title: str
    auth_key: str
    created_at: str | None
    has_admin_api_key: bool
    users: int | None = None


class AppsList(_Closed):
    items: list[AppJson]


class AppKeysJson(_Closed):
    """The keys made now, shown only in this answer."""
    app: AppJson
    admin_api_key: str
    auth_key: str | None = None
    auth_secret: str | None = None


class CreateAppRequest(BaseModel):
    title: str
    id: int | None = None


class RotateKeysRequest(BaseModel):
    auth: int | bool | None = None


class ImportUser(BaseModel):
    line: int | None = None
    user: dict[str, Any]


class ImportUsersRequest(BaseModel):
    users: list[ImportUser]


class ImportResultJson(_Closed):
    line: int
    id: int | None = None
    error: str | None = None


class ImportUsersAnswer(_Closed):
    results: list[ImportResultJson]


class ExportQuery(BaseModel):
    chat_dialog_id: str | None = None
