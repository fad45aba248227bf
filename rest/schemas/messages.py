"""Messages over REST: requests read into commands (models/messages.py) and stored messages shaped
as the ConnectyCube `Message` (custom keys at the top level, `read` and `reactions.own` as seen by
the viewer)."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from models.errors import InvalidError
from models.lax import (cast_datetime, cast_int, cast_number, cast_str, parse_flag, positive_int,
                        split_list, string)
from models.messages import (CONTROL_KEYS, KEY_RE, OUTPUT_KEYS, DeleteResult, HistoryQuery, Message,
                             MessageDraft, MessageUpdate, SystemMessageDraft, draft_from_params,
                             make_edit)
from models.queries import Condition, Op
from rest.schemas.common import ObjectBody
from rest.schemas.filters import FieldSpec, conditions, page_params, sort_params

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


class _Lax(ObjectBody):
    """A request read as it came (query string or body, every encoding the SDK uses); the
    command it builds is strict. Errors are the domain's (a 422 naming the field)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CreateMessageBody(_Lax):
    """`POST /chat/Message`."""

    def to_command(self) -> MessageDraft:
        return draft_from_params(self.params)


class HistoryParams(_Lax):
    """`GET /chat/Message?chat_dialog_id=...&field[op]=value&sort_desc=...&limit=&skip=&count=1
    &mark_as_read=0&preview=1&read=0`, custom fields filtered like the others (`rating[gt]=3`)."""

    def to_command(self, max_limit: int) -> HistoryQuery:
        params = self.params
        dialog_id = params.get("chat_dialog_id")
        if dialog_id in (None, ""):
            raise InvalidError("can't be blank", field="chat_dialog_id")
        preview = parse_flag(params.get("preview"), "preview", False)
        mark = parse_flag(params.get("mark_as_read"), "mark_as_read", True)
        counting = parse_flag(params.get("count"), "count", False)
        found = conditions(params, MESSAGE_FILTERS) + _custom_conditions(params)
        read = parse_flag(params.get("read"), "read", True) if "read" in params else None
        skip, limit = page_params(params, 100, max_limit)
        sort = sort_params(params, MESSAGE_SORTS, None)
        return HistoryQuery(dialog_id=dialog_id if isinstance(dialog_id, str) else str(dialog_id),
                            conditions=tuple(found), read=read, sort=sort, skip=skip, limit=limit,
                            count_only=counting, preview=preview, mark_read=mark)


UPDATE_KEYS = {"message", "read", "delivered", "chat_dialog_id", "attachments", "token", "_"}


class UpdateMessagesParams(_Lax):
    """`PUT /chat/Message[/{ids}]`: `message`, `read=1`, `delivered=1`, `chat_dialog_id`; an
    edit may also give `attachments` (the new list; `[]` removes them) and custom parameters as
    top-level keys, as a send does (`null` removes one)."""

    def to_command(self, ids: list[str] | None) -> MessageUpdate:
        params = self.params
        body = params.get("message")
        custom = {k: v for k, v in params.items()
                  if k not in UPDATE_KEYS and k not in CONTROL_KEYS and k not in OUTPUT_KEYS}
        edit = make_edit(params.get("attachments"), custom) \
            if custom or params.get("attachments") is not None else None
        return MessageUpdate(
            ids=tuple(ids) if ids is not None else None,
            body=string(body, "message") if body is not None else None,
            read=parse_flag(params.get("read"), "read", False),
            delivered=parse_flag(params.get("delivered"), "delivered", False),
            dialog_id=params.get("chat_dialog_id") or None, edit=edit)


class SystemMessageBody(_Lax):
    """`POST /chat/Message/system`: `recipientId` (or `recipient_id`) or `chat_dialog_id`, and
    the extension parameters (everything else)."""

    def to_command(self) -> SystemMessageDraft:
        params = self.params
        extension = {k: v for k, v in params.items()
                     if k not in ("recipientId", "recipient_id", "chat_dialog_id")}
        raw_recipient = params.get("recipientId", params.get("recipient_id"))
        dialog_id = params.get("chat_dialog_id")
        recipient = positive_int(raw_recipient, "recipientId") if raw_recipient not in (None, "") \
            else None
        return SystemMessageDraft(
            extension=extension, recipient_id=recipient,
            dialog_id=string(dialog_id, "chat_dialog_id") if dialog_id not in (None, "") else None)


def unread_dialog_ids(params: dict[str, Any]) -> list[str]:
    """`GET /chat/Message/unread.json?chat_dialog_ids=a,b`."""
    return [str(d) for d in split_list(params.get("chat_dialog_ids"))]


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


def _custom_conditions(params: dict[str, Any]) -> list[Condition]:
    """Filters on custom top-level keys (`?country=USA`, `rating[gt]=3`)."""
    out: list[Condition] = []
    for key, raw in params.items():
        if (key in LIST_KEYS or key in MESSAGE_FILTERS or key in CONTROL_KEYS or key in OUTPUT_KEYS
                or not isinstance(key, str) or not KEY_RE.match(key)):
            continue
        clauses = raw if isinstance(raw, dict) else {"eq": raw}
        field = f"custom.{key}"
        for op, value in clauses.items():
            if isinstance(value, list) and op not in ("in", "nin", "all"):
                value = value[0] if value else ""
            try:
                if op in ("eq", "ne"):
                    out.append(Condition(field, Op.in_ if op == "eq" else Op.nin,
                                         tuple(_custom_value_candidates(value))))
                elif op in ("in", "nin"):
                    items = tuple(c for v in split_list(value) for c in _custom_value_candidates(v))
                    out.append(Condition(field, Op(op), items))
                elif op == "all":
                    out.append(Condition(field, Op.all, tuple(cast_str(v) for v in split_list(value))))
                elif op in ("lt", "lte", "gt", "gte"):
                    out.append(Condition(field, Op(op), _custom_value_candidates(value)[-1]))
                elif op == "ctn":
                    out.append(Condition(field, Op.contains, cast_str(value)))
                else:
                    raise InvalidError(f"unknown operator '{op}'", field=key)
            except ValueError as exc:
                raise InvalidError(f"invalid value for '{key}'", field=key) from exc
    return out


def message_to_json(message: Message, viewer_id: int) -> dict[str, Any]:
    """The wire Message (`Message.to_wire`) with what this viewer sees: `read`, `reactions`."""
    data = message.to_wire()
    data["read"] = 1 if viewer_id in message.read_ids else 0
    data["reactions"] = message.reactions_view(viewer_id)
    return data


def delete_result_to_json(result: DeleteResult) -> dict[str, Any]:
    return {"SuccessfullyDeleted": {"ids": result.deleted},
            "NotFound": {"ids": result.not_found},
            "WrongPermissions": {"ids": result.wrong_permissions}}
