"""Chat messages: send (shared by REST and the XMPP bridge), history, read/delivered marks, edits,
deletes, unread counts and system messages.

Every write is followed (never preceded) by a domain event in the outbox: `message_created`,
`message_updated`, `messages_read`, `messages_delivered`, `message_deleted`, `system_message`.
Messages outside the caller's application or dialogs answer "not found" (no probing).
"""
from __future__ import annotations

import functools

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from config.settings import LimitSettings
from models.clock import Clock
from models.errors import ChatError, ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.events import Event, EventPublisher, Origin
from models.requester import Requester
from models.services.access import (BROADCAST, PRIVATE, PUBLIC, AccessService, DialogAccess,
                                    PrivateAccessMemo)
from models.services.batcher import Batcher
from models.services.filters import (FieldSpec, build_query, cast_datetime, cast_int, cast_number,
                                     cast_str, page_params, parse_flag, sort_params, split_list)
from models.storage.dialogs import DialogStore
from models.storage.ids import is_object_id, new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.users import UserStore

logger = logging.getLogger(__name__)

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
OUTPUT_KEYS = {"sender_id", "created_at", "updated_at", "read_ids", "delivered_ids", "views_count",
               "read", "reactions", "token", "moduleIdentifier", "seq", "app_id", "custom",
               "deleted_for", "edited_at"}

MESSAGE_FILTERS = {
    "_id": FieldSpec(cast_str),
    "message": FieldSpec(cast_str),
    "date_sent": FieldSpec(cast_number),
    "sender_id": FieldSpec(cast_int),
    "recipient_id": FieldSpec(cast_int),
    "created_at": FieldSpec(cast_datetime),
    "updated_at": FieldSpec(cast_datetime),
    "attachments.type": FieldSpec(cast_str),
}
MESSAGE_SORTS = {"date_sent": "date_sent", "created_at": "created_at", "updated_at": "updated_at",
                 "_id": "_id"}
LIST_KEYS = {"chat_dialog_id", "limit", "skip", "offset", "count", "sort_asc", "sort_desc",
             "mark_as_read", "preview", "read", "token", "_"}


class PrivateDialogs(Protocol):
    """The dialog service's private-dialog lookup (creates the type 3 dialog on first message)."""

    async def find_or_create_private(self, requester: Requester, other_user_id: int) -> Doc: ...


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
    origin: Origin | None = None  # the transport (and stanza) it came from: its event carries it


@dataclass
class MessagePage:
    items: list[Doc]
    skip: int
    limit: int
    count: int | None = None  # set for `count=1`


@dataclass
class DeleteResult:
    deleted: list[str]
    not_found: list[str]
    wrong_permissions: list[str]


# -- parsing ---------------------------------------------------------------------------------------
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
        out["dialog_id"] = _string(fields["dialog_id"], "chat_dialog_id")
    if fields.get("recipient_id") is not None:
        out["recipient_id"] = _positive_int(fields["recipient_id"], "recipient_id")
    if fields.get("body") is not None:
        out["body"] = _string(fields["body"], "message")
    if fields.get("attachments") is not None:
        out["attachments"] = _attachments(fields["attachments"])
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
            out[flag] = _flag(fields[flag], flag)
    custom = fields.get("custom") or {}
    if not isinstance(custom, dict):
        raise InvalidError("must be an object", field="base")
    if len(custom) > MAX_CUSTOM_KEYS:
        raise InvalidError(f"too many custom parameters (maximum is {MAX_CUSTOM_KEYS})", field="base")
    for key, value in custom.items():
        _check_key(key, key)
        _check_value(value, key, 1)
    out["custom"] = dict(custom)
    if fields.get("origin") is not None:
        out["origin"] = fields["origin"]
    return MessageDraft(**out)


def _string(value: Any, field: str) -> str:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InvalidError("must be a string", field=field)
    return value if isinstance(value, str) else str(value)


def _positive_int(value: Any, field: str) -> int:
    try:
        number = cast_int(value)
    except (ValueError, TypeError) as exc:
        raise InvalidError("must be an integer", field=field) from exc
    if number <= 0:
        raise InvalidError("must be a positive integer", field=field)
    return number


def _flag(value: Any, field: str) -> bool:
    return parse_flag(value, field)


def _attachments(value: Any) -> list[dict[str, Any]]:
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
            _check_key(key, "attachments")
            _check_value(val, "attachments", 1)
    return [dict(item) for item in value]


def _check_key(key: Any, field: str) -> None:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise InvalidError(f"invalid parameter name '{str(key)[:64]}'", field=field)


def _check_value(value: Any, field: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise InvalidError("is nested too deeply", field=field)
    if isinstance(value, dict):
        for key, val in value.items():
            _check_key(key, field)
            _check_value(val, field, depth + 1)
    elif isinstance(value, list):
        for val in value:
            _check_value(val, field, depth + 1)
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise InvalidError("has an unsupported value", field=field)


# -- wire shape shared by REST, event payloads and the bridge -------------------------------------
def _iso(value: datetime | None) -> str | None:
    return None if value is None else _iso_of(value)


@functools.lru_cache(maxsize=256)  # a batch of messages shares its timestamps
def _iso_of(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_wire(doc: Doc) -> Doc:
    """The ConnectyCube Message object without the per-viewer fields (`read`, `reactions.own`)."""
    data: Doc = {key: value for key, value in (doc.get("custom") or {}).items()}
    data.update({
        "_id": doc["_id"],
        "chat_dialog_id": doc["chat_dialog_id"],
        "message": doc.get("message", ""),
        "date_sent": doc.get("date_sent"),
        "sender_id": doc.get("sender_id"),
        "recipient_id": doc.get("recipient_id") or 0,
        "created_at": _iso(doc.get("created_at")),
        "updated_at": _iso(doc.get("updated_at")),
        "read_ids": list(doc.get("read_ids") or []),
        "delivered_ids": list(doc.get("delivered_ids") or []),
        "views_count": doc.get("views_count", 0),
        "attachments": list(doc.get("attachments") or []),
    })
    if doc.get("markable"):
        data["markable"] = 1
    return data


def reactions_view(doc: Doc, viewer_id: int) -> Doc | None:
    reactions = {k: v for k, v in (doc.get("reactions") or {}).items() if v}
    if not reactions:
        return None
    return {"own": [emoji for emoji, users in reactions.items() if viewer_id in users],
            "total": {emoji: len(users) for emoji, users in reactions.items()}}


# -- the service -----------------------------------------------------------------------------------
class MessageService:
    def __init__(self, messages: MessageStore, dialogs: DialogStore, members: MemberStore,
                 users: UserStore, access: AccessService, clock: Clock, publisher: EventPublisher,
                 limits: LimitSettings, private_dialogs: PrivateDialogs | None = None) -> None:
        self._messages = messages
        self._dialogs = dialogs
        self._members = members
        self._users = users
        self._access = access
        self._clock = clock
        self._publisher = publisher
        self._limits = limits
        self._private = private_dialogs
        self._private_access = PrivateAccessMemo()
        self._batcher: Batcher[tuple[Requester, MessageDraft], Doc] = Batcher(self.send_many)

    def set_private_dialogs(self, private_dialogs: PrivateDialogs) -> None:
        """For wiring when the dialog service is built after this one."""
        self._private = private_dialogs

    # -- send --------------------------------------------------------------------------------------
    async def send(self, requester: Requester, draft: MessageDraft) -> Doc:
        """Authorizes, stores (idempotent on `draft.id`), takes the dialog seq, updates the dialog,
        shows the dialog again to members who hid it, then publishes `message_created`.
        Returns the stored message (the earlier one for a repeated id).

        Concurrent sends (REST requests, bridge copies) are group-committed (`Batcher`): one
        id lookup, one insert, one sequence update per dialog and one outbox write per batch."""
        return await self._batcher.submit((requester, draft))

    async def send_batch(self, items: list[tuple[Requester, MessageDraft]]) -> list[Doc | BaseException]:
        """Several sends at once, in order, sharing batches with concurrent `send`s: one result
        per item (the stored message, or the error that item gets)."""
        return await self._batcher.submit_many(items)

    async def send_many(self, items: list[tuple[Requester, MessageDraft]]) -> list[Doc | Exception]:
        """The batch behind `send`: one result per item, in order (the stored message, or the
        ChatError that item gets). Items with an id that appears earlier in the batch run after
        it, so they see it as a repeat."""
        results: list[Doc | Exception | None] = [None] * len(items)
        seen: set[str] = set()
        first: list[int] = []
        later: list[int] = []
        for index, (_, draft) in enumerate(items):
            if draft.id is not None and draft.id in seen:
                later.append(index)
            else:
                first.append(index)
                if draft.id is not None:
                    seen.add(draft.id)
        for part in (first, later):
            if part:
                for index, result in zip(part, await self._send_unique([items[i] for i in part])):
                    results[index] = result
        return results  # type: ignore[return-value]

    async def _send_unique(self, items: list[tuple[Requester, MessageDraft]]) -> list[Doc | Exception]:
        results: list[Doc | Exception | None] = [None] * len(items)
        accesses: dict[tuple[int, int, str], DialogAccess] = {}
        ready: list[tuple[int, Requester, MessageDraft, DialogAccess]] = []
        for index, (requester, draft) in enumerate(items):
            try:
                self._check_size(draft)
                key = (requester.app_id, requester.user_id, draft.dialog_id or "")
                access = accesses.get(key) if draft.dialog_id is not None else None
                if access is None and draft.dialog_id is not None and draft.save_to_history:
                    access = self._private_access.get(key)
                if access is None:
                    access = await self._target(requester, draft)
                    if draft.dialog_id is not None:
                        accesses[key] = access
                        if access.type == PRIVATE:
                            self._private_access.put(key, access)
                if not access.can_post():
                    raise ForbiddenError("You don't have permission to send messages to this dialog")
                ready.append((index, requester, draft, access))
            except ChatError as exc:
                results[index] = exc
        # repeats of stored messages (ids are global: another application's id is a conflict)
        ids = [draft.id for _, _, draft, _ in ready if draft.id is not None]
        existing = await self._messages.find_any_app(ids) if ids else {}
        now = self._clock.now()
        fresh: list[tuple[int, Requester, MessageDraft, DialogAccess, Doc]] = []
        for index, requester, draft, access in ready:
            if draft.id is not None and draft.id in existing:
                try:
                    results[index] = self._repeat(existing[draft.id], requester, access.dialog_id)
                except ChatError as exc:
                    results[index] = exc
                continue
            fresh.append((index, requester, draft, access, self._new_doc(requester, draft, access, now)))
        # one sequence update per dialog: a range of seqs, the batch's last message recorded
        by_dialog: dict[tuple[int, str], list[Doc]] = {}
        for _, requester, draft, access, doc in fresh:
            if draft.save_to_history:
                by_dialog.setdefault((requester.app_id, access.dialog_id), []).append(doc)
        missing: set[tuple[int, str]] = set()
        unhide: list[str] = []  # dialogs a member hid: shown to them again by this message
        for (app_id, dialog_id), docs in by_dialog.items():
            last = docs[-1]
            try:
                top, hidden = await self._dialogs.take_seqs(app_id, dialog_id, {
                    "last_message": last["message"], "last_message_id": last["_id"],
                    "last_message_user_id": last["sender_id"],
                    "last_message_date_sent": last["date_sent"], "updated_at": now}, len(docs))
            except LookupError:
                missing.add((app_id, dialog_id))
                self._private_access.forget(app_id, dialog_id)
                continue
            if hidden:
                unhide.append(dialog_id)
            for offset, doc in enumerate(docs):
                doc["seq"] = top - len(docs) + 1 + offset
        to_store = [entry for entry in fresh if entry[2].save_to_history
                    and (entry[1].app_id, entry[3].dialog_id) not in missing]
        stored_docs = await self._messages.insert_many([doc for *_, doc in to_store]) if to_store else []
        stored_by_index = {entry[0]: pair for entry, pair in zip(to_store, stored_docs)}
        events: list[Event] = []
        for index, requester, draft, access, doc in fresh:
            if draft.save_to_history:
                if (requester.app_id, access.dialog_id) in missing:
                    results[index] = NotFoundError("Dialog not found")
                    continue
                stored, created = stored_by_index[index]
                if not created:  # a concurrent send with the same id won the race
                    try:
                        results[index] = self._repeat(stored, requester, access.dialog_id)
                    except ChatError as exc:
                        results[index] = exc
                    continue
                doc = stored
            results[index] = doc
            events.append(await self._created_event(requester, draft, access, doc))
        for dialog_id in unhide:
            await self._members.unhide_all(dialog_id)
        if events:
            await self._publisher.publish_many(events)
        return results  # type: ignore[return-value]

    def _new_doc(self, requester: Requester, draft: MessageDraft, access: DialogAccess,
                 now: datetime) -> Doc:
        date_sent = draft.date_sent if draft.date_sent is not None else int(now.timestamp())
        return {
            "_id": draft.id or new_id(),
            "app_id": requester.app_id,
            "chat_dialog_id": access.dialog_id,
            "sender_id": requester.user_id,
            "recipient_id": self._private_peer(access) if access.type == PRIVATE else 0,
            "message": draft.body,
            "date_sent": date_sent,
            "created_at": now,
            "updated_at": now,
            "attachments": list(draft.attachments),
            "read_ids": [requester.user_id],
            "delivered_ids": [requester.user_id],
            "views_count": 0,
            "deleted_for": [],
            "reactions": {},
            "custom": dict(draft.custom),
            "markable": draft.markable,
        }

    async def _created_event(self, requester: Requester, draft: MessageDraft, access: DialogAccess,
                             doc: Doc) -> Event:
        recipients = [uid for uid in await self._audience(access) if uid != requester.user_id]
        return Event(
            kind="message_created", app_id=requester.app_id, dialog_id=access.dialog_id,
            sender_id=requester.user_id, recipient_ids=recipients,
            payload={"message": message_wire(doc), "custom": dict(draft.custom),
                     "dialog_type": access.type, "send_to_chat": draft.send_to_chat,
                     "save_to_history": draft.save_to_history, "markable": draft.markable,
                     "silent": draft.silent}, origin=draft.origin)

    def _check_size(self, draft: MessageDraft) -> None:
        limit = self._limits.max_message_bytes
        if len(draft.body.encode("utf-8", "surrogatepass")) > limit:
            raise InvalidError(f"is too long (maximum is {limit} bytes)", field="message")
        if not draft.attachments and not draft.custom:
            return
        extra = json.dumps([draft.attachments, draft.custom], ensure_ascii=False, default=str)
        if len(extra.encode("utf-8", "surrogatepass")) > limit:
            raise InvalidError(f"attachments and custom parameters exceed {limit} bytes", field="base")

    async def _target(self, requester: Requester, draft: MessageDraft) -> DialogAccess:
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        if draft.dialog_id is not None:
            return await self._access.dialog_for(requester, draft.dialog_id)
        if draft.recipient_id is None:
            raise InvalidError("chat_dialog_id or recipient_id is required", field="chat_dialog_id")
        if draft.recipient_id == requester.user_id:
            raise InvalidError("can't be yourself", field="recipient_id")
        if await self._users.get(requester.app_id, draft.recipient_id) is None:
            raise NotFoundError("User not found")
        if self._private is None:
            raise InvalidError("chat_dialog_id is required", field="chat_dialog_id")
        dialog = await self._private.find_or_create_private(requester, draft.recipient_id)
        return await self._access.dialog_for(requester, dialog["_id"])

    @staticmethod
    def _repeat(existing: Doc, requester: Requester, dialog_id: str) -> Doc:
        if (existing.get("app_id") != requester.app_id or existing.get("sender_id") != requester.user_id
                or existing.get("chat_dialog_id") != dialog_id):
            raise ConflictError("message id is already used", field="_id")
        return existing

    @staticmethod
    def _private_peer(access: DialogAccess) -> int:
        others = [u for u in access.dialog.get("occupants_ids") or [] if u != access.user_id]
        return others[0] if others else 0

    async def _audience(self, access: DialogAccess) -> list[int]:
        """Everyone who receives the dialog's messages: occupants, or subscribers of a public one."""
        if access.type == PUBLIC:
            return [m["user_id"] for m in await self._members.for_dialog(access.dialog_id)]
        return list(access.dialog.get("occupants_ids") or [])

    # -- history -----------------------------------------------------------------------------------
    async def history(self, requester: Requester, params: dict[str, Any]) -> MessagePage:
        """GET /chat/Message: filtered page of one dialog; marks the returned messages read unless
        `mark_as_read=0`. `preview=1` lets a non-member read the last 20 of a dialog that allows it."""
        dialog_id = params.get("chat_dialog_id")
        if dialog_id in (None, ""):
            raise InvalidError("can't be blank", field="chat_dialog_id")
        preview = _param_flag(params, "preview", False)
        mark = _param_flag(params, "mark_as_read", True)
        counting = _param_flag(params, "count", False)
        access = await self._access.dialog_for(requester, dialog_id, preview=preview)
        viewer = requester.user_id
        query = build_query(params, MESSAGE_FILTERS)
        query.update(_custom_query(params))
        if "read" in params:
            read = _param_flag(params, "read", True)
            query["read_ids"] = viewer if read else {"$ne": viewer}
        query["chat_dialog_id"] = access.dialog_id
        query["deleted_for"] = {"$ne": viewer}
        cleared = int((access.member or {}).get("cleared_seq") or 0)
        if cleared:
            query["seq"] = {"$gt": cleared}
        app_id = requester.app_id
        if not access.is_reader:  # preview: the newest 20, oldest first; paging params ignored
            docs = await self._messages.find(app_id, query, [("seq", -1), ("_id", -1)], 0, PREVIEW_LIMIT)
            if counting:
                return MessagePage([], 0, PREVIEW_LIMIT, count=len(docs))
            docs.sort(key=lambda d: (d.get("date_sent") or 0, d.get("seq") or 0, d["_id"]))
            return MessagePage(docs, 0, PREVIEW_LIMIT)
        if counting:
            return MessagePage([], 0, 0, count=await self._messages.count(app_id, query))
        skip, limit = page_params(params, 100, self._limits.max_list_limit)
        sort = sort_params(params, MESSAGE_SORTS, [("date_sent", 1), ("_id", 1)])
        if sort[0][0] != "_id":  # equal date_sent: the dialog's own order, then the id
            sort.insert(1, ("seq", sort[0][1]))
        docs = await self._messages.find(app_id, query, sort, skip, limit) if limit else []
        if mark and docs:
            await self._mark_docs_read(access, docs)
        return MessagePage(docs, skip, limit)

    # -- read / delivered marks --------------------------------------------------------------------
    async def _mark_docs_read(self, access: DialogAccess, docs: list[Doc],
                              origin: Origin | None = None) -> None:
        viewer = access.user_id
        new = [d for d in docs if viewer not in (d.get("read_ids") or []) and d.get("sender_id") != viewer]
        if new:
            await self._messages.update_many(access.dialog["app_id"], {
                "_id": {"$in": [d["_id"] for d in new]}, "read_ids": {"$ne": viewer}},
                self._read_update(access, viewer))
            now = self._clock.now()
            for doc in new:
                doc["read_ids"] = [*doc.get("read_ids", []), viewer]
                if viewer not in (doc.get("delivered_ids") or []):
                    doc["delivered_ids"] = [*doc.get("delivered_ids", []), viewer]
                if access.type in (BROADCAST, PUBLIC):
                    doc["views_count"] = int(doc.get("views_count") or 0) + 1
                doc["updated_at"] = now
        await self._compact_read_position(access, max(int(d.get("seq") or 0) for d in docs))
        if new:
            await self._publish_marks("messages_read", access, new, origin=origin)

    def _read_update(self, access: DialogAccess, viewer: int) -> Doc:
        update: Doc = {"$addToSet": {"read_ids": viewer, "delivered_ids": viewer},
                       "$set": {"updated_at": self._clock.now()}}
        if access.type in (BROADCAST, PUBLIC):
            update["$inc"] = {"views_count": 1}
        return update

    async def _compact_read_position(self, access: DialogAccess, upto_seq: int) -> None:
        """Moves the member's last_read_seq to just before their oldest unread message (or to
        `upto_seq`, the newest message just read, when none is left), so unread counts stay
        `seq > last_read_seq` minus read_ids (see SCHEMA.md)."""
        if upto_seq <= 0:
            return
        member = await self._reader_member(access)
        if member is None:
            return
        position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
        if upto_seq <= position:
            return
        first_unread = await self._messages.first_unread_seq(access.dialog_id, access.user_id, position)
        target = upto_seq if first_unread is None else first_unread - 1
        if target > position:
            await self._members.advance_read(access.dialog_id, access.user_id, target)

    async def _reader_member(self, access: DialogAccess) -> Doc | None:
        """The caller's membership; a broadcast reader without one gets it now (it holds their
        read position: nothing read yet, 0)."""
        if access.member is None and access.type == BROADCAST:
            access.member = await self._members.ensure(
                access.dialog["app_id"], access.dialog_id, access.user_id,
                {"joined_at": self._clock.now()})
        return access.member

    async def _publish_marks(self, kind: str, access: DialogAccess, docs: list[Doc],
                             extra: Doc | None = None, origin: Origin | None = None) -> None:
        senders = sorted({d["sender_id"] for d in docs if d.get("sender_id") != access.user_id})
        await self._publisher.publish(Event(
            kind=kind, app_id=access.dialog["app_id"], dialog_id=access.dialog_id,
            sender_id=access.user_id, recipient_ids=senders,
            payload={"message_ids": [d["_id"] for d in docs[:MAX_EVENT_IDS]],
                     "senders": {d["_id"]: d.get("sender_id") for d in docs[:MAX_EVENT_IDS]},
                     "user_id": access.user_id, "dialog_type": access.type, **(extra or {})},
            origin=origin))

    async def update(self, requester: Requester, ids: list[str] | None, params: dict[str, Any]) -> None:
        """PUT /chat/Message[/{ids}]: `message` edits one own message; `read=1` / `delivered=1`
        mark the given messages (or, without ids, everything in `chat_dialog_id`)."""
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        if not isinstance(params, dict):
            raise InvalidError("must be an object", field="base")
        read = _param_flag(params, "read", False)
        delivered = _param_flag(params, "delivered", False)
        body = params.get("message")
        if body is None and not read and not delivered:
            raise InvalidError("read, delivered or message is required", field="base")
        dialog_id = params.get("chat_dialog_id") or None
        if body is not None:
            if not ids or len(ids) != 1:
                raise InvalidError("exactly one message id is required to edit", field="id")
            await self._edit(requester, ids[0], _string(body, "message"), dialog_id)
        if not read and not delivered:
            return
        if ids:
            groups = await self._visible_by_dialog(requester, ids, dialog_id)
            if not groups:
                raise NotFoundError("Message not found")
            for access, docs in groups:
                if read:
                    await self._mark_docs_read(access, docs)
                elif delivered:
                    await self._mark_docs_delivered(access, docs)
            return
        if dialog_id is None:
            raise InvalidError("can't be blank", field="chat_dialog_id")
        access = await self._access.dialog_for(requester, dialog_id)
        if read:
            await self.mark_all_read(access)
        else:
            await self._mark_all_delivered(access)

    async def mark_all_read(self, access: DialogAccess) -> None:
        """Everything up to the dialog's current seq becomes read for this member."""
        viewer, upto = access.user_id, int(access.dialog.get("seq") or 0)
        member = access.member or {}
        position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
        if upto <= position:
            return
        query = {**MessageStore.unread_query(access.dialog_id, viewer, position)}
        query["seq"] = {"$gt": position, "$lte": upto}
        app_id = access.dialog["app_id"]
        docs = await self._messages.find(app_id, query, [("seq", 1)], 0, MAX_EVENT_IDS)
        if docs:
            await self._messages.update_many(app_id, query, self._read_update(access, viewer))
        if await self._reader_member(access) is not None:
            await self._members.advance_read(access.dialog_id, viewer, upto)
        if docs:
            await self._publish_marks("messages_read", access, docs, {"up_to_seq": upto})

    async def _mark_docs_delivered(self, access: DialogAccess, docs: list[Doc],
                                   origin: Origin | None = None) -> None:
        viewer = access.user_id
        new = [d for d in docs if viewer not in (d.get("delivered_ids") or []) and d.get("sender_id") != viewer]
        if not new:
            return
        await self._messages.update_many(access.dialog["app_id"], {
            "_id": {"$in": [d["_id"] for d in new]}, "delivered_ids": {"$ne": viewer}},
            {"$addToSet": {"delivered_ids": viewer}, "$set": {"updated_at": self._clock.now()}})
        await self._publish_marks("messages_delivered", access, new, origin=origin)

    async def _mark_all_delivered(self, access: DialogAccess) -> None:
        viewer = access.user_id
        cleared = int((access.member or {}).get("cleared_seq") or 0)
        query = {"chat_dialog_id": access.dialog_id, "seq": {"$gt": cleared},
                 "sender_id": {"$ne": viewer}, "delivered_ids": {"$ne": viewer},
                 "deleted_for": {"$ne": viewer}}
        app_id = access.dialog["app_id"]
        docs = await self._messages.find(app_id, query, [("seq", 1)], 0, MAX_EVENT_IDS)
        if not docs:
            return
        await self._messages.update_many(app_id, query, {
            "$addToSet": {"delivered_ids": viewer}, "$set": {"updated_at": self._clock.now()}})
        await self._publish_marks("messages_delivered", access, docs)

    async def mark_read(self, requester: Requester, message_ids: list[str], *,
                        origin: Origin | None = None) -> None:
        """For the bridge's `<displayed>` receipts: like `PUT read=1` (unknown ids are ignored)."""
        for access, docs in await self._visible_by_dialog(requester, message_ids, None):
            await self._mark_docs_read(access, docs, origin=origin)

    async def mark_delivered(self, requester: Requester, message_ids: list[str], *,
                             origin: Origin | None = None) -> None:
        """For the bridge's `<received>` receipts."""
        for access, docs in await self._visible_by_dialog(requester, message_ids, None):
            await self._mark_docs_delivered(access, docs, origin=origin)

    async def _visible_by_dialog(self, requester: Requester, ids: list[str],
                                 dialog_id: str | None) -> list[tuple[DialogAccess, list[Doc]]]:
        """The messages among `ids` this user may see, grouped by dialog (occupants only)."""
        docs = await self._messages.get_many(requester.app_id, [i for i in ids if is_object_id(i)])
        by_dialog: dict[str, list[Doc]] = {}
        for doc in docs:
            if dialog_id is not None and doc["chat_dialog_id"] != dialog_id:
                continue
            if requester.user_id in (doc.get("deleted_for") or []):
                continue
            by_dialog.setdefault(doc["chat_dialog_id"], []).append(doc)
        out: list[tuple[DialogAccess, list[Doc]]] = []
        for did, group in by_dialog.items():
            access = await self._occupant_access(requester, did)
            if access is None:
                continue
            cleared = int((access.member or {}).get("cleared_seq") or 0)
            group = [d for d in group if int(d.get("seq") or 0) > cleared]
            if group:
                out.append((access, sorted(group, key=lambda d: int(d.get("seq") or 0))))
        return out

    async def _occupant_access(self, requester: Requester, dialog_id: str) -> DialogAccess | None:
        try:
            access = await self._access.dialog_for(requester, dialog_id)
        except (NotFoundError, ForbiddenError):
            return None
        return access if access.is_reader else None

    # -- edit --------------------------------------------------------------------------------------
    async def _edit(self, requester: Requester, message_id: str, body: str, dialog_id: str | None,
                    origin: Origin | None = None) -> Doc:
        if len(body.encode("utf-8", "surrogatepass")) > self._limits.max_message_bytes:
            raise InvalidError(f"is too long (maximum is {self._limits.max_message_bytes} bytes)",
                               field="message")
        groups = await self._visible_by_dialog(requester, [message_id], dialog_id)
        if not groups:
            raise NotFoundError("Message not found")
        access, (doc,) = groups[0]
        if doc.get("sender_id") != requester.user_id:
            raise ForbiddenError("You can edit only your own messages")
        now = self._clock.now()
        updated = await self._messages.update(requester.app_id, doc["_id"], {
            "$set": {"message": body, "updated_at": now, "edited_at": now}})
        if updated is None:
            raise NotFoundError("Message not found")
        dialog = await self._dialogs.get(requester.app_id, access.dialog_id)
        is_last = bool(dialog and dialog.get("last_message_id") == doc["_id"])
        if is_last:
            await self._dialogs.set_fields(requester.app_id, access.dialog_id, {"last_message": body})
        recipients = [u for u in await self._audience(access) if u != requester.user_id]
        await self._publisher.publish(Event(
            kind="message_updated", app_id=requester.app_id, dialog_id=access.dialog_id,
            sender_id=requester.user_id, recipient_ids=recipients,
            payload={"message_id": doc["_id"], "message": body, "last": is_last,
                     "dialog_type": access.type, "user_id": requester.user_id}, origin=origin))
        return updated

    async def edit(self, requester: Requester, message_id: str, body: str, *,
                   origin: Origin | None = None) -> Doc:
        """For the bridge's `<replace>` (XEP-0308) corrections: the author edits the stored body."""
        return await self._edit(requester, message_id, _string(body, "message"), None, origin)

    # -- delete ------------------------------------------------------------------------------------
    async def delete(self, requester: Requester, ids: list[str], force: bool) -> DeleteResult:
        """Without force: hidden for the caller only. With force: removed for everyone, allowed for
        the author, and for admins/owner in group, public and broadcast dialogs."""
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        result = DeleteResult([], [], [])
        found: set[str] = set()
        for access, docs in await self._visible_by_dialog(requester, ids, None):
            allowed: list[Doc] = []
            for doc in docs:
                found.add(doc["_id"])
                if self._may_delete(access, doc, force):
                    allowed.append(doc)
                else:
                    result.wrong_permissions.append(doc["_id"])
            if allowed:
                await self._delete_in_dialog(requester, access, allowed, force)
                result.deleted.extend(d["_id"] for d in allowed)
        seen: set[str] = set()
        for mid in ids:
            key = mid.lower() if is_object_id(mid) else mid
            if key not in found and key not in seen:
                result.not_found.append(mid)
            seen.add(key)
        return result

    @staticmethod
    def _may_delete(access: DialogAccess, doc: Doc, force: bool) -> bool:
        if access.type == BROADCAST:  # regular users of a broadcast are readers only
            return access.is_admin
        if not force:
            return True
        if doc.get("sender_id") == access.user_id:
            return True
        return access.type != PRIVATE and access.is_admin

    async def _delete_in_dialog(self, requester: Requester, access: DialogAccess, docs: list[Doc],
                                force: bool) -> None:
        app_id, ids = requester.app_id, [d["_id"] for d in docs]
        if not force:
            await self._messages.update_many(app_id, {"_id": {"$in": ids}},
                                             {"$addToSet": {"deleted_for": requester.user_id}})
            return
        await self._messages.delete_many(app_id, {"_id": {"$in": ids}, "chat_dialog_id": access.dialog_id})
        dialog = await self._dialogs.get(app_id, access.dialog_id) or access.dialog
        if set(ids) & set(dialog.get("pinned_messages_ids") or []):
            await self._dialogs.update(app_id, access.dialog_id,
                                       {"$pull": {"pinned_messages_ids": {"$in": ids}}})
        if dialog.get("last_message_id") in ids:
            last = await self._messages.last_visible(access.dialog_id, 0, 0)
            await self._dialogs.set_fields(app_id, access.dialog_id, {
                "last_message": last.get("message") if last else None,
                "last_message_id": last["_id"] if last else None,
                "last_message_user_id": last.get("sender_id") if last else None,
                "last_message_date_sent": last.get("date_sent") if last else None})
        recipients = [u for u in await self._audience(access) if u != requester.user_id]
        await self._publisher.publish(Event(
            kind="message_deleted", app_id=app_id, dialog_id=access.dialog_id,
            sender_id=requester.user_id, recipient_ids=recipients,
            payload={"message_ids": ids, "dialog_type": access.type, "user_id": requester.user_id}))

    # -- unread counts -----------------------------------------------------------------------------
    async def unread_counts(self, requester: Requester, dialog_ids: Any) -> dict[str, int]:
        """`{"total": n}` over all the caller's (visible) dialogs, or `{"total": n, id: n...}` over
        the listed ones that are the caller's (others are left out: no probing)."""
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        wanted = [str(d) for d in split_list(dialog_ids)]
        if len(wanted) > self._limits.max_ids_per_request:
            raise InvalidError(f"too many ids (maximum is {self._limits.max_ids_per_request})",
                               field="chat_dialog_ids")
        if wanted:
            members = await self._members.get_many([d for d in wanted if is_object_id(d)],
                                                   requester.user_id)
            members = {d: m for d, m in members.items() if m.get("app_id") == requester.app_id}
        else:
            members = {m["dialog_id"]: m for m in await self._members.for_user(
                requester.app_id, requester.user_id, include_hidden=True)}
        # broadcast dialogs of the app are the caller's too: without a membership, nothing read
        for dialog_id in await self._dialogs.broadcast_ids(requester.app_id):
            if dialog_id not in members and (not wanted or dialog_id in wanted):
                members[dialog_id] = {"dialog_id": dialog_id, "user_id": requester.user_id}
        if not wanted:
            members = {d: m for d, m in members.items() if not m.get("hidden")}
        counts: dict[str, int] = {}
        for dialog_id, member in members.items():
            counts[dialog_id] = await self.unread_for_member(member)
        out: dict[str, int] = {"total": sum(counts.values())}
        if wanted:
            out.update({d: counts[d] for d in wanted if d in counts})
        return out

    async def unread_for_member(self, member: Doc) -> int:
        position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
        return await self._messages.count_unread(member["dialog_id"], member["user_id"], position)

    # -- system messages ---------------------------------------------------------------------------
    async def send_system(self, requester: Requester, params: dict[str, Any]) -> Doc:
        """Not stored: published as `system_message` for the bridge to deliver as a headline."""
        if not requester.is_user:
            raise ForbiddenError("A user session is required")
        if not isinstance(params, dict):
            raise InvalidError("must be an object", field="base")
        extension = {k: v for k, v in params.items()
                     if k not in ("recipientId", "recipient_id", "chat_dialog_id")}
        if len(extension) > MAX_CUSTOM_KEYS:
            raise InvalidError(f"too many parameters (maximum is {MAX_CUSTOM_KEYS})", field="base")
        for key, value in extension.items():
            _check_key(key, key)
            _check_value(value, key, 1)
        size = len(json.dumps(extension, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > self._limits.max_message_bytes:
            raise InvalidError(f"is too large (maximum is {self._limits.max_message_bytes} bytes)",
                               field="base")
        raw_recipient = params.get("recipientId", params.get("recipient_id"))
        dialog_id = params.get("chat_dialog_id")
        dialog: DialogAccess | None = None
        if raw_recipient not in (None, ""):
            recipient = _positive_int(raw_recipient, "recipientId")
            if await self._users.get(requester.app_id, recipient) is None:
                raise NotFoundError("User not found")
            recipients = [recipient]
        elif dialog_id not in (None, ""):
            dialog = await self._access.dialog_for(requester, _string(dialog_id, "chat_dialog_id"))
            if not dialog.is_occupant:
                raise ForbiddenError("You are not an occupant of this dialog")
            recipients = [u for u in await self._audience(dialog) if u != requester.user_id]
            recipient = 0
        else:
            raise InvalidError("can't be blank", field="recipientId")
        message_id = new_id()
        await self._publisher.publish(Event(
            kind="system_message", app_id=requester.app_id,
            dialog_id=dialog.dialog_id if dialog else None, sender_id=requester.user_id,
            recipient_ids=recipients,
            payload={"id": message_id, "extension": extension, "user_id": requester.user_id}))
        out: Doc = {"messageId": message_id, "recipientId": recipient, "extensionParams": extension}
        if dialog is not None:
            out["chat_dialog_id"] = dialog.dialog_id
        return out


def _param_flag(params: dict[str, Any], key: str, default: bool) -> bool:
    return parse_flag(params.get(key), key, default)


def _custom_value_candidates(value: Any) -> list[Any]:
    """Custom values are stored as sent (strings over XMPP, any JSON type over REST): a filter
    value matches both its string and its numeric form."""
    text = cast_str(value)
    out: list[Any] = [text]
    try:
        number = cast_number(text)
    except ValueError:
        return out
    out.append(number)
    return out


def _custom_query(params: dict[str, Any]) -> Doc:
    """Filters on custom top-level keys (`?country=USA`, `rating[gt]=3`)."""
    query: Doc = {}
    for key, raw in params.items():
        if (key in LIST_KEYS or key in MESSAGE_FILTERS or key in CONTROL_KEYS or key in OUTPUT_KEYS
                or not isinstance(key, str) or not KEY_RE.match(key)):
            continue
        clauses = raw if isinstance(raw, dict) else {"eq": raw}
        condition: Doc = {}
        for op, value in clauses.items():
            if isinstance(value, list) and op not in ("in", "nin", "all"):
                value = value[0] if value else ""
            try:
                if op in ("eq", "ne"):
                    condition["$in" if op == "eq" else "$nin"] = _custom_value_candidates(value)
                elif op in ("in", "nin"):
                    items = [c for v in split_list(value) for c in _custom_value_candidates(v)]
                    condition[f"${op}"] = items
                elif op == "all":
                    condition["$all"] = [cast_str(v) for v in split_list(value)]
                elif op in ("lt", "lte", "gt", "gte"):
                    candidates = _custom_value_candidates(value)
                    condition[f"${op}"] = candidates[-1]
                elif op == "ctn":
                    condition["$regex"] = re.escape(cast_str(value))
                    condition["$options"] = "i"
                else:
                    raise InvalidError(f"unknown operator '{op}'", field=key)
            except ValueError as exc:
                raise InvalidError(f"invalid value for '{key}'", field=key) from exc
        query[f"custom.{key}"] = condition
    return query
