"""The admin API over REST: requests read into commands (models/admin.py) and dialogs and messages
shaped as usual plus the admin-only fields (`silent_ids`, `deleted_ids`, `is_e2ee`, `is_muted`;
`deleted_for_ids`). Parameters come from the query string and, on GET too, from a form or JSON
body, as ConnectyCube's examples send them (rest/views/admin.py)."""
from __future__ import annotations

from typing import Any

from models.admin import NEWEST_FIRST, AdminDialog, AdminDialogChange, AdminListQuery, StatsQuery
from models.dialogs import DialogView
from models.messages import Message
from models.errors import InvalidError
from models.lax import (cast_int, cast_number, cast_str, is_object_id, parse_flag, positive_int,
                        split_list, string)
from models.queries import Condition, Op
from models.services.push import is_e2ee
from rest.schemas.dialogs import dialog_changes, dialog_conditions, dialog_to_json
from rest.schemas.filters import FieldSpec, conditions, page_params, sort_params
from rest.schemas.messages import MESSAGE_FILTERS, message_to_json

ADMIN_SORTS = {"created_at": "created_at", "updated_at": "updated_at", "_id": "_id"}
DIALOG_SORTS = {**ADMIN_SORTS, "last_message_date_sent": "last_message_date_sent"}
MESSAGE_SORTS = {**ADMIN_SORTS, "date_sent": "date_sent"}


def _object_id(value: Any) -> str:
    text = cast_str(value).strip().lower()
    if not is_object_id(text):
        raise ValueError("not an id")
    return text


ADMIN_MESSAGE_FILTERS = {**MESSAGE_FILTERS, "_id": FieldSpec(_object_id)}


def _optional_user(params: dict[str, Any], name: str = "user_id") -> int | None:
    value = params.get(name)
    return None if value in (None, "") else positive_int(value, name)


def admin_dialog_change(params: dict[str, Any], max_ids: int) -> AdminDialogChange:
    """`PUT /admin/chat/{dialog_id}`: Update Dialog parameters, `user_id` and `is_muted`."""
    changes = dialog_changes(params, max_ids)
    muted = params.get("is_muted")
    return AdminDialogChange(changes=changes, user_id=_optional_user(params),
                             is_muted=None if muted in (None, "") else parse_flag(muted, "is_muted"))


def _page(params: dict[str, Any], sorts: dict[str, str], max_limit: int) -> tuple[int, int, Any]:
    skip, limit = page_params(params, 100, max_limit)
    return skip, limit, sort_params(params, sorts, NEWEST_FIRST) or NEWEST_FIRST


def dialog_list_query(params: dict[str, Any], max_limit: int) -> AdminListQuery:
    """`GET /admin/chat/list`: the Retrieve Dialogs filters (`_id`, `created_at`, `updated_at`
    with `gt lt gte lte`, ...), `limit` (max 100), `skip`, `sort_asc` / `sort_desc`; newest
    first by default (page with `_id[lt]`)."""
    skip, limit, sort = _page(params, DIALOG_SORTS, max_limit)
    return AdminListQuery(conditions=tuple(dialog_conditions(params)), sort=sort, skip=skip,
                          limit=limit)


def message_list_query(params: dict[str, Any], max_limit: int) -> AdminListQuery:
    """`GET /admin/chat/messages/list`: as the dialog list, plus `chat_dialog_id` and the message
    filters (`sender_id`, `date_sent`, ...)."""
    skip, limit, sort = _page(params, MESSAGE_SORTS, max_limit)
    found = conditions(params, ADMIN_MESSAGE_FILTERS)
    dialog_id = params.get("chat_dialog_id")
    if isinstance(dialog_id, (dict, list)):
        raise InvalidError("must be a dialog id", field="chat_dialog_id")
    if dialog_id not in (None, ""):
        dialog_id = cast_str(dialog_id).strip()
        found.append(Condition("chat_dialog_id", Op.eq, dialog_id))
    return AdminListQuery(conditions=tuple(found), sort=sort, skip=skip, limit=limit,
                          dialog_id=dialog_id or None)


def _seconds(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        seconds = int(cast_number(value))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidError("must be a Unix time in seconds", field=name) from exc
    if not 0 <= seconds < 2 ** 33:
        raise InvalidError("must be a Unix time in seconds", field=name)
    return seconds


def stats_query(params: dict[str, Any], max_limit: int) -> StatsQuery:
    """`start_date`, `end_date` (Unix seconds), `types[]` / `types=2,3`, `limit` (days), `offset`."""
    start, end = _seconds(params, "start_date"), _seconds(params, "end_date")
    if start is not None and end is not None and end < start:
        raise InvalidError("must not be before start_date", field="end_date")
    raw_types = params.get("types")
    if isinstance(raw_types, dict):
        raw_types = list(raw_types.values())
    types: list[int] = []
    for item in split_list(raw_types):
        try:
            kind = cast_int(item)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidError("must be dialog types (1 to 4)", field="types") from exc
        if kind not in (1, 2, 3, 4):
            raise InvalidError("must be dialog types (1 to 4)", field="types")
        types.append(kind)
    offset, limit = page_params(params, 100, max_limit, skip_keys=("offset",))
    return StatsQuery(start=start, end=end, types=tuple(dict.fromkeys(types)), limit=limit,
                      offset=offset)


def message_edit(params: dict[str, Any]) -> tuple[str, int | None]:
    """`PUT /admin/chat/messages/{id}`: `message` (the new text) and optionally `user_id`."""
    body = params.get("message")
    if body is None:
        raise InvalidError("can't be blank", field="message")
    return string(body, "message"), _optional_user(params)


def acting_user(params: dict[str, Any]) -> int | None:
    return _optional_user(params)


def sender(params: dict[str, Any]) -> int:
    value = params.get("sender_id")
    if value in (None, ""):
        raise InvalidError("can't be blank", field="sender_id")
    return positive_int(value, "sender_id")


def admin_dialog_to_json(entry: AdminDialog) -> dict[str, Any]:
    data = dialog_to_json(DialogView(entry.dialog, None))
    data.update({"silent_ids": entry.silent_ids, "deleted_ids": entry.deleted_ids,
                 "is_e2ee": is_e2ee(entry.dialog), "is_muted": entry.is_muted})
    return data


def admin_message_to_json(message: Message) -> dict[str, Any]:
    data = message_to_json(message, 0)
    data["deleted_for_ids"] = sorted(message.deleted_for)
    return data
