"""Dialogs in the domain: the `DialogType` enum, the stored `Dialog` entity and a user's view
of one (`DialogView`), what a new dialog and a change to one say (`DialogDraft`, `DialogChanges`),
the list query, and the rules every dialog field obeys.

The dialog store hands out `Dialog`s (`Dialog.from_doc`: the stored layout of
models/storage/SCHEMA.md, read in this one place) and stores them (`Dialog.to_doc`); REST reads
requests into these commands (rest/schemas/dialogs.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Collection, Mapping, NamedTuple

from models.errors import InvalidError
from models.lax import cast_bool
from models.queries import Condition, Sort

if TYPE_CHECKING:
    from models.messages import Message


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


@dataclass(frozen=True, slots=True)
class LastMessage:
    """What a dialog records of its newest message."""

    body: str | None
    id: str
    sender_id: int
    date_sent: int | None

    @classmethod
    def of(cls, message: Message) -> LastMessage:
        return cls(message.body, message.id, message.sender_id, message.date_sent)


class Dialog(NamedTuple):
    """A stored dialog (a document of `dialogs`, models/storage/SCHEMA.md). Immutable: a change
    is a new value (`dialog._replace(...)`); a NamedTuple for the reason `Message` is one
    (models/messages.py): a dialog list builds up to a hundred. `extensions` (the app's own fields) are kept as stored.
    Id lists are tuples in stored order; `Room` keeps a copy with sets (`with_id_sets`)."""

    id: str
    app_id: int
    type: DialogType
    user_id: int | None = None  # the owner
    name: str | None = None
    description: str | None = None
    photo: str | None = None
    occupants_ids: Collection[int] = ()  # members of types 1-3; public dialogs list none
    admins_ids: Collection[int] = ()
    pinned_messages_ids: tuple[str, ...] = ()
    extensions: Mapping[str, str] | None = None
    permissions: Mapping[str, bool] | None = None
    private_key: str | None = None  # "{minUserId}:{maxUserId}", private dialogs only
    xmpp_room_jid: str | None = None
    seq: int = 0  # messages stored so far
    has_hidden: bool = False
    last_message: str | None = None
    last_message_id: str | None = None
    last_message_user_id: int | None = None
    last_message_date_sent: int | None = None
    occupants_count: int | None = None  # public dialogs only
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # users banned from the dialog (`/chat/Dialog/{id}/block`, models/services/bans.py): never
    # occupants, readers or subscribers while listed
    banned_ids: Collection[int] = ()
    # at most this many occupants (subscribers of a public dialog); None: the global maximum
    occupants_limit: int | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Dialog:
        """A stored document (its `_id` an ObjectId or its string) as a Dialog."""
        get = doc.get
        return cls(  # positional, in field order
            str(doc["_id"]), get("app_id"), DialogType(int(get("type") or 0)), get("user_id"),
            get("name"), get("description"), get("photo"), tuple(get("occupants_ids") or ()),
            tuple(get("admins_ids") or ()), tuple(get("pinned_messages_ids") or ()),
            get("extensions"), get("permissions"), get("private_key"), get("xmpp_room_jid"),
            int(get("seq") or 0), bool(get("has_hidden")), get("last_message"),
            get("last_message_id"), get("last_message_user_id"), get("last_message_date_sent"),
            get("occupants_count"), get("created_at"), get("updated_at"),
            tuple(get("banned_ids") or ()), get("occupants_limit"))

    def to_doc(self) -> dict[str, Any]:
        """The document of a new dialog (`_id` as the 24-hex string). `private_key` only for
        private dialogs, `occupants_count` only for public ones (SCHEMA.md)."""
        doc: dict[str, Any] = {
            "_id": self.id, "app_id": self.app_id, "type": int(self.type), "name": self.name,
            "description": self.description, "photo": self.photo, "user_id": self.user_id,
            "occupants_ids": list(self.occupants_ids), "admins_ids": list(self.admins_ids),
            "pinned_messages_ids": list(self.pinned_messages_ids),
            "extensions": dict(self.extensions) if self.extensions is not None else None,
            "permissions": dict(self.permissions) if self.permissions is not None else None,
        }
        if self.type == DialogType.PRIVATE:
            doc["private_key"] = self.private_key
        doc.update({
            "xmpp_room_jid": self.xmpp_room_jid, "seq": self.seq,
            "last_message": self.last_message, "last_message_id": self.last_message_id,
            "last_message_user_id": self.last_message_user_id,
            "last_message_date_sent": self.last_message_date_sent,
            "created_at": self.created_at, "updated_at": self.updated_at})
        if self.type == DialogType.PUBLIC:
            doc["occupants_count"] = self.occupants_count
        if self.occupants_limit is not None:
            doc["occupants_limit"] = self.occupants_limit
        return doc

    def with_last_message(self, last: LastMessage | None) -> Dialog:
        """This dialog with `last` (or none) as its last message."""
        if last is None:
            return self._replace(last_message=None, last_message_id=None,
                           last_message_user_id=None, last_message_date_sent=None)
        return self._replace(last_message=last.body, last_message_id=last.id,
                       last_message_user_id=last.sender_id, last_message_date_sent=last.date_sent)

    def with_id_sets(self) -> Dialog:
        """A copy whose occupant and admin ids are sets (one hash lookup per decision)."""
        return self._replace(occupants_ids=frozenset(self.occupants_ids),
                             admins_ids=frozenset(self.admins_ids),
                             banned_ids=frozenset(self.banned_ids))


@dataclass(frozen=True, slots=True)
class DialogView:
    """A dialog as one user sees it: last message fields personalised, their membership, unread,
    and the status of their own last message (`sent | delivered | read`, None otherwise)."""

    dialog: Dialog
    member: dict[str, Any] | None
    unread: int = 0
    last_message_status: str | None = None


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
    occupants_limit: int | None = None  # group and public dialogs; None: the global maximum


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
    occupants_limit: int | None = None  # with `set_occupants_limit`; None: the global maximum
    set_occupants_limit: bool = False


@dataclass(frozen=True)
class DialogQuery:
    """A page of the caller's dialogs; `count_only` answers the number of matches."""

    conditions: tuple[Condition, ...] = ()
    sort: Sort | None = None
    skip: int = 0
    limit: int = 100
    count_only: bool = False
    archived: bool | None = None  # the caller's archived (True) or other (False) dialogs; None: all


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


def check_occupants_limit(value: Any) -> int | None:
    """`occupants_limit`: a positive integer (also as a string); null or empty: none (the global
    maximum, which the services also hold it to)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidError("must be a positive integer", field="occupants_limit")
    try:
        limit = int(str(value).strip())
    except ValueError:
        raise InvalidError("must be a positive integer", field="occupants_limit") from None
    if limit < 1:
        raise InvalidError("must be a positive integer", field="occupants_limit")
    return limit


def occupants_capacity(dialog: Dialog, max_occupants: int) -> int:
    """How many occupants (subscribers of a public dialog) the dialog takes: its own
    `occupants_limit`, never more than the global maximum (checked on every add and subscribe)."""
    limit = dialog.occupants_limit
    return min(limit, max_occupants) if limit else max_occupants


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
