"""Messages in the domain: the stored `Message` entity and its ConnectyCube wire shape
(`Message.to_wire`, which REST, event payloads and the bridge share), what a send says
(`MessageDraft`), the queries and changes of history (`HistoryQuery`, `MessageUpdate`), system
messages and the results services answer.

The message store hands out `Message`s (`Message.from_doc`: the stored layout of
models/storage/SCHEMA.md, read in this one place) and stores them (`Message.to_doc`). Drafts are
read from a REST create body or a stanza's `<extraParams>` by `draft_from_params` (the same lax
rules for both) and validated by `make_draft`: strict, frozen values the services take.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from models.errors import InvalidError
from models.events import Origin
from models.lax import cast_number, is_object_id, parse_flag, positive_int, string
from models.queries import Condition, Sort

Doc = dict[str, Any]

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")  # usable as a Mongo field and an XML name
MAX_ATTACHMENTS = 20
MAX_CUSTOM_KEYS = 50
MAX_NESTING = 4
PREVIEW_LIMIT = 20
MAX_EVENT_IDS = 1000
# Keys of a create body / extraParams that are not custom keys. Output-only keys are dropped.
CONTROL_KEYS = {"_id", "chat_dialog_id", "dialog_id", "recipient_id", "message", "attachments",
                "date_sent", "save_to_history", "send_to_chat", "markable", "silent"}
EMPTY: Mapping[str, Any] = MappingProxyType({})  # a shared default nobody can change
OUTPUT_KEYS = {"sender_id", "created_at", "updated_at", "read_ids", "delivered_ids", "views_count",
               "read", "reactions", "token", "moduleIdentifier", "seq", "app_id", "custom",
               "deleted_for", "edited_at", "archive_order"}


class Message(NamedTuple):
    """A stored message (a document of `messages`, models/storage/SCHEMA.md). Immutable: a
    change is a new value (`message._replace(...)`). A NamedTuple, not a pydantic model or a
    frozen dataclass: every history page and every send builds some, from documents whose types
    the store already guarantees, and a tuple is built several times faster than a frozen
    dataclass, whose `__init__` sets each field through `object.__setattr__` (docs/benchmarks.md,
    "Why the code is the way it is").

    `custom` (the client's extra top-level keys) and `attachments` are kept as sent; `seq` is 0
    for a message that was not stored (`save_to_history=0`)."""

    id: str
    app_id: int
    dialog_id: str  # stored as `chat_dialog_id`
    sender_id: int
    recipient_id: int = 0  # the other occupant of a private dialog; 0 for groups
    body: str = ""  # stored as `message`
    date_sent: int | None = None  # Unix seconds, as the client or the server's clock gave it
    seq: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    edited_at: datetime | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    read_ids: tuple[int, ...] = ()
    delivered_ids: tuple[int, ...] = ()
    views_count: int = 0
    deleted_for: tuple[int, ...] = ()  # deleted "for me" by these users
    reactions: Mapping[str, tuple[int, ...]] = EMPTY  # emoji -> user ids
    custom: Mapping[str, Any] = EMPTY
    markable: bool = False

    @classmethod
    def from_doc(cls, doc: Doc) -> Message:
        """A stored document (its `_id` an ObjectId or its string) as a Message."""
        get = doc.get
        reactions = get("reactions")
        return cls(  # positional, in field order: this runs for every document the store hands out
            str(doc["_id"]), get("app_id"), get("chat_dialog_id"), get("sender_id"),
            get("recipient_id") or 0, get("message", ""), get("date_sent"), get("seq") or 0,
            get("created_at"), get("updated_at"), get("edited_at"),
            tuple(get("attachments") or ()), tuple(get("read_ids") or ()),
            tuple(get("delivered_ids") or ()), get("views_count", 0),
            tuple(get("deleted_for") or ()),
            {emoji: tuple(users) for emoji, users in reactions.items()} if reactions else {},
            get("custom") or {}, bool(get("markable")))

    def to_doc(self) -> Doc:
        """The document to store (`_id` as the 24-hex string; the store makes it an ObjectId)."""
        doc: Doc = {
            "_id": self.id,
            "app_id": self.app_id,
            "chat_dialog_id": self.dialog_id,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id,
            "message": self.body,
            "date_sent": self.date_sent,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "attachments": list(self.attachments),
            "read_ids": list(self.read_ids),
            "delivered_ids": list(self.delivered_ids),
            "views_count": self.views_count,
            "deleted_for": list(self.deleted_for),
            "reactions": {emoji: list(users) for emoji, users in self.reactions.items()},
            "custom": dict(self.custom),
            "markable": self.markable,
            "seq": self.seq,
        }
        if self.edited_at is not None:
            doc["edited_at"] = self.edited_at
        return doc

    def to_wire(self) -> Doc:
        """The ConnectyCube Message object without the per-viewer fields (`read`,
        `reactions.own`): custom keys at the top level. REST answers it, the `message_created`
        event carries it (a plain dict: the outbox stores it)."""
        data: Doc = dict(self.custom)
        data.update({
            "_id": self.id,
            "chat_dialog_id": self.dialog_id,
            "message": self.body,
            "date_sent": self.date_sent,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id or 0,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "read_ids": list(self.read_ids),
            "delivered_ids": list(self.delivered_ids),
            "views_count": self.views_count,
            "attachments": list(self.attachments),
        })
        if self.markable:
            data["markable"] = 1
        if self.edited_at is not None:  # the author edited it (body, attachments or custom keys)
            data["edited_at"] = iso(self.edited_at)
        return data

    def reactions_view(self, viewer_id: int) -> Doc | None:
        """`{"own": [emoji], "total": {emoji: count}}` as `viewer_id` sees them; None without any."""
        reactions = {k: v for k, v in self.reactions.items() if v}
        if not reactions:
            return None
        return {"own": [emoji for emoji, users in reactions.items() if viewer_id in users],
                "total": {emoji: len(users) for emoji, users in reactions.items()}}


class MessageDraft(BaseModel):
    """A message as a transport received it, before authorization and storage.

    REST builds it from a create body, the bridge from a `<message>` stanza (`id` = stanza id,
    `body` = `<body>`, the rest from `<extraParams>`); `draft_from_params` does the lax parsing.
    """

    model_config = ConfigDict(frozen=True)

    id: str | None = None  # the client's 24-hex id: sends are idempotent on it
    dialog_id: str | None = None
    recipient_id: int | None = None  # without dialog_id: the private dialog with this user
    body: str = ""
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    date_sent: int | None = None  # Unix seconds; the server's clock when missing
    custom: dict[str, Any] = Field(default_factory=dict)
    save_to_history: bool = True
    send_to_chat: bool = False  # also deliver over XMPP (REST sends with send_to_chat=1)
    markable: bool = False
    silent: bool = False  # no push for offline recipients
    origin: Origin | None = None  # the transport (and stanza) it came from


@dataclass(frozen=True)
class HistoryQuery:
    """A page of one dialog's history as `GET /chat/Message` asks for it.

    `read`: only messages the caller has (True) or has not (False) read; `preview`: a non-member
    may read the newest `PREVIEW_LIMIT` of a dialog that allows it; `mark_read`: the returned
    messages become read for the caller; `count_only`: the number of matches instead."""

    dialog_id: str
    conditions: tuple[Condition, ...] = ()
    read: bool | None = None
    sort: Sort | None = None  # None: oldest first (date_sent, then the dialog's order)
    skip: int = 0
    limit: int = 100
    count_only: bool = False
    preview: bool = False
    mark_read: bool = True


@dataclass(frozen=True)
class MessageUpdate:
    """`PUT /chat/Message[/{ids}]`: edit one own message (`body`, `attachments`, custom
    parameters) and / or mark the given messages (or, without ids, everything in `dialog_id`)
    read or delivered."""

    ids: tuple[str, ...] | None = None
    body: str | None = None
    read: bool = False
    delivered: bool = False
    dialog_id: str | None = None
    edit: MessageEdit | None = None  # what else an edit changes (None: the body at most)

    @property
    def edits(self) -> bool:
        return self.body is not None or (self.edit is not None and bool(self.edit))


@dataclass(frozen=True)
class MessageEdit:
    """What an author's edit changes besides the body: `attachments` replaced as a whole (None:
    unchanged, `()`: removed), custom parameters set one by one (`custom`; None as a value
    removes that key). Checked as a send's are (`make_edit`)."""

    attachments: tuple[dict[str, Any], ...] | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.attachments is not None or bool(self.custom)

    def applied(self, message: Message, body: str | None) -> Message:
        """`message` as the edit leaves it (not yet stored)."""
        custom = dict(message.custom)
        for key, value in self.custom.items():
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
        if len(custom) > MAX_CUSTOM_KEYS:
            raise InvalidError(f"too many custom parameters (maximum is {MAX_CUSTOM_KEYS})",
                               field="base")
        return message._replace(
            body=message.body if body is None else body, custom=custom,
            attachments=message.attachments if self.attachments is None else self.attachments)


def make_edit(attachments_value: Any = None, custom: Mapping[str, Any] | None = None
              ) -> MessageEdit:
    """Lax values of an edit (REST body) as a checked `MessageEdit`: the rules of `make_draft`
    (attachment shapes and count, key names, nesting, the number of custom keys)."""
    found = None if attachments_value is None else tuple(attachments(attachments_value))
    custom = dict(custom or {})
    if len(custom) > MAX_CUSTOM_KEYS:
        raise InvalidError(f"too many custom parameters (maximum is {MAX_CUSTOM_KEYS})",
                           field="base")
    for key, value in custom.items():
        check_key(key, key)
        if value is not None:
            check_value(value, key, 1)
    return MessageEdit(found, custom)


@dataclass(frozen=True)
class SystemMessageDraft:
    """A system message (not stored): to one user, or to the other occupants of a dialog."""

    extension: dict[str, Any]
    recipient_id: int | None = None
    dialog_id: str | None = None


@dataclass
class MessagePage:
    items: list[Message]
    skip: int
    limit: int
    count: int | None = None  # set for `count=1`


@dataclass
class DeleteResult:
    deleted: list[str]
    not_found: list[str]
    wrong_permissions: list[str]


def draft_from_params(params: dict[str, Any], **overrides: Any) -> MessageDraft:
    """Lax parsing of a REST create body or a stanza's extraParams (values may be strings like "1",
    attachments a list or a `{"0": {...}}` map). `overrides` (id, body, dialog_id, recipient_id,
    send_to_chat...) win over `params`. Raises InvalidError naming the field."""
    if not isinstance(params, dict):
        raise InvalidError("must be an object", field="base")
    fields: dict[str, Any] = {}
    raw_id = params.get("_id")
    if raw_id not in (None, ""):
        fields["id"] = raw_id
    dialog_id = params.get("chat_dialog_id") or params.get("dialog_id")
    if dialog_id not in (None, ""):
        fields["dialog_id"] = dialog_id
    if params.get("recipient_id") not in (None, "", 0, "0"):
        fields["recipient_id"] = params["recipient_id"]
    if params.get("message") is not None:
        fields["body"] = params["message"]
    if params.get("attachments") is not None:
        fields["attachments"] = params["attachments"]
    if params.get("date_sent") not in (None, ""):
        fields["date_sent"] = params["date_sent"]
    for flag in ("save_to_history", "send_to_chat", "markable", "silent"):
        if params.get(flag) not in (None, ""):
            fields[flag] = params[flag]
    fields["custom"] = {k: v for k, v in params.items() if k not in CONTROL_KEYS and k not in OUTPUT_KEYS}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return make_draft(**fields)


def make_draft(**fields: Any) -> MessageDraft:
    """Coerces and validates each field; the result is a strict, frozen draft."""
    out: dict[str, Any] = {}
    if fields.get("id") is not None:
        if not is_object_id(fields["id"]):
            raise InvalidError("must be a 24-character hex id", field="_id")
        out["id"] = fields["id"].lower()
    if fields.get("dialog_id") is not None:
        out["dialog_id"] = string(fields["dialog_id"], "chat_dialog_id")
    if fields.get("recipient_id") is not None:
        out["recipient_id"] = positive_int(fields["recipient_id"], "recipient_id")
    if fields.get("body") is not None:
        out["body"] = string(fields["body"], "message")
    if fields.get("attachments") is not None:
        out["attachments"] = attachments(fields["attachments"])
    if fields.get("date_sent") is not None:
        try:
            date_sent = int(cast_number(fields["date_sent"]))
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidError("must be a Unix time in seconds", field="date_sent") from exc
        if not 0 <= date_sent < 2 ** 33:
            raise InvalidError("must be a Unix time in seconds", field="date_sent")
        out["date_sent"] = date_sent
    for flag in ("save_to_history", "send_to_chat", "markable", "silent"):
        if fields.get(flag) is not None:
            out[flag] = parse_flag(fields[flag], flag)
    custom = fields.get("custom") or {}
    if not isinstance(custom, dict):
        raise InvalidError("must be an object", field="base")
    if len(custom) > MAX_CUSTOM_KEYS:
        raise InvalidError(f"too many custom parameters (maximum is {MAX_CUSTOM_KEYS})", field="base")
    for key, value in custom.items():
        check_key(key, key)
        check_value(value, key, 1)
    out["custom"] = dict(custom)
    if fields.get("origin") is not None:
        out["origin"] = fields["origin"]
    return MessageDraft(**out)


def attachments(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        # `{"0": {...}, "1": {...}}` (form-style arrays) or one bare attachment object
        value = list(value.values()) if value and all(isinstance(v, dict) for v in value.values()) \
            else [value]
    if not isinstance(value, list):
        raise InvalidError("must be a list of objects", field="attachments")
    if len(value) > MAX_ATTACHMENTS:
        raise InvalidError(f"too many attachments (maximum is {MAX_ATTACHMENTS})", field="attachments")
    for item in value:
        if not isinstance(item, dict):
            raise InvalidError("must be a list of objects", field="attachments")
        for key, val in item.items():
            check_key(key, "attachments")
            check_value(val, "attachments", 1)
    return [dict(item) for item in value]


def check_key(key: Any, field: str) -> None:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise InvalidError(f"invalid parameter name '{str(key)[:64]}'", field=field)


def check_value(value: Any, field: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise InvalidError("is nested too deeply", field=field)
    if isinstance(value, dict):
        for key, val in value.items():
            check_key(key, field)
            check_value(val, field, depth + 1)
    elif isinstance(value, list):
        for val in value:
            check_value(val, field, depth + 1)
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise InvalidError("has an unsupported value", field=field)


def iso(value: datetime | None) -> str | None:
    """The ConnectyCube time format (UTC, whole seconds): `2026-01-01T12:00:00Z`."""
    return None if value is None else _iso_of(value)


@functools.lru_cache(maxsize=256)  # a batch of messages shares its timestamps
def _iso_of(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
