"""Dialogs in the domain: the `DialogType` enum, what a new dialog and a change to one say
(`DialogDraft`, `DialogChanges`), the list query, and the rules every dialog field obeys.

Dialog documents travel as dicts of the stored fields (ConnectyCube names, models/storage/SCHEMA.md);
REST reads requests into these commands (rest/schemas/dialogs.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from models.errors import InvalidError
from models.lax import cast_bool
from models.queries import Condition, Sort


class DialogType(IntEnum):
    BROADCAST = 1  # every user of the app reads it; only admins post
    GROUP = 2
    PRIVATE = 3  # exactly two occupants, no admins
    PUBLIC = 4  # anyone in the app subscribes; lists no occupants


TEXT_LIMITS = {"name": 255, "photo": 2000, "description": 2000}
MAX_EXTENSIONS = 10
MAX_EXTENSION_KEY = 64
MAX_EXTENSION_VALUE = 1000
EXTENSION_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
LAST_MESSAGE_FIELDS = ("last_message", "last_message_id", "last_message_user_id",
                       "last_message_date_sent")


@dataclass(frozen=True)
class DialogDraft:
    """A dialog to create. `extensions` / `permissions`: None when not given."""

    type: DialogType
    name: str | None = None
    description: str | None = None
    photo: str | None = None
    occupants_ids: tuple[int, ...] = ()
    admins_ids: tuple[int, ...] = ()
    extensions: dict[str, str] | None = None
    permissions: dict[str, bool] | None = None
    given: frozenset[str] = frozenset()  # which optional fields the request named


@dataclass(frozen=True)
class IdChanges:
    """Ids added to and removed from one list field of a dialog."""

    add: tuple[Any, ...] = ()
    remove: tuple[Any, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


@dataclass(frozen=True)
class DialogChanges:
    """A change to a dialog: fields to set (only those named, None clears) and list changes."""

    texts: dict[str, str | None] = field(default_factory=dict)  # name, photo, description
    extensions: dict[str, str] | None = None
    set_extensions: bool = False
    permissions: dict[str, bool] | None = None
    set_permissions: bool = False
    occupants: IdChanges = IdChanges()
    admins: IdChanges = IdChanges()
    pins: IdChanges = IdChanges()


@dataclass(frozen=True)
class DialogQuery:
    """A page of the caller's dialogs; `count_only` answers the number of matches."""

    conditions: tuple[Condition, ...] = ()
    sort: Sort | None = None
    skip: int = 0
    limit: int = 100
    count_only: bool = False


# -- the rules of dialog fields -------------------------------------------------------------------
def check_text(key: str, value: Any) -> str | None:
    """name / photo / description: a string within its limit; empty is none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidError("must be a string", field=key)
    text = str(value).strip()
    limit = TEXT_LIMITS[key]
    if len(text) > limit:
        raise InvalidError(f"is too long (maximum is {limit} characters)", field=key)
    return text or None


def valid_extension_key(key: Any) -> bool:
    return isinstance(key, str) and 0 < len(key) <= MAX_EXTENSION_KEY and \
        bool(EXTENSION_KEY_RE.match(key))


def check_extensions(value: Any) -> dict[str, str] | None:
    """A flat object; values are kept as strings (as ConnectyCube casts them). null resets."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field="extensions")
    if len(value) > MAX_EXTENSIONS:
        raise InvalidError(f"too many fields (maximum is {MAX_EXTENSIONS})", field="extensions")
    out: dict[str, str] = {}
    for key, raw in value.items():
        if not valid_extension_key(key):
            raise InvalidError(f"invalid field name (letters, digits, '_' and '-', up to "
                               f"{MAX_EXTENSION_KEY})", field="extensions")
        if raw is None:
            continue
        if isinstance(raw, (dict, list)):
            raise InvalidError("values must be strings", field="extensions")
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if len(text) > MAX_EXTENSION_VALUE:
            raise InvalidError(f"value is too long (maximum is {MAX_EXTENSION_VALUE} characters)",
                               field="extensions")
        out[key] = text
    return out


def check_permissions(value: Any) -> dict[str, bool] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field="permissions")
    try:
        return {"allow_preview": cast_bool(value.get("allow_preview", False))}
    except ValueError as exc:
        raise InvalidError("allow_preview must be true or false", field="permissions") from exc
