"""Dialogs over REST: requests read into commands (models/dialogs.py) and ConnectyCube's Dialog
object, field for field (the shapes are pinned by tests/rest/test_dialogs.py)."""
from __future__ import annotations

from typing import Any

from models.dialogs import (TEXT_LIMITS, DialogChanges, DialogDraft, DialogQuery, DialogType,
                            DialogView, IdChanges, check_extensions, check_occupants_limit,
                            check_permissions, check_text, valid_extension_key)
from models.errors import BadRequestError, InvalidError
from models.lax import (cast_datetime, cast_int, cast_number, cast_str, is_object_id, parse_flag,
                        split_list)
from models.queries import Condition
from rest.schemas.common import iso
from rest.schemas.filters import FieldSpec, conditions, page_params, sort_params

def _cast_object_id(value: Any) -> str:
    text = cast_str(value).strip()
    if not is_object_id(text):
        raise ValueError("not an id")
    return text


STRING_OPS = {"eq", "lt", "lte", "gt", "gte", "ne", "in", "nin", "all", "ctn", "start_with", "or"}
VALUE_OPS = STRING_OPS - {"ctn", "start_with"}
DIALOG_FILTERS = {
    "_id": FieldSpec(_cast_object_id),
    "type": FieldSpec(cast_int),
    "name": FieldSpec(cast_str),
    "user_id": FieldSpec(cast_int),
    "occupants_ids": FieldSpec(cast_int),
    "created_at": FieldSpec(cast_datetime),
    "updated_at": FieldSpec(cast_datetime),
    "last_message_date_sent": FieldSpec(cast_number),
}
STRING_FILTERS = {"name"}
DIALOG_SORTS = {"last_message_date_sent": "last_message_date_sent", "date_sent": "last_message_date_sent",
                "created_at": "created_at", "updated_at": "updated_at"}


def dialog_query(params: dict[str, Any], max_limit: int) -> DialogQuery:
    """`GET /chat/Dialog?type[in]=2,3&name[ctn]=x&extensions[k]=v&sort_desc=...&limit=&skip=&count=1
    &archived=0|1` (no `archived`: all the caller's dialogs)."""
    counting = parse_flag(params.get("count"), "count")
    archived = params.get("archived")
    archived = None if archived in (None, "") else parse_flag(archived, "archived")
    found = dialog_conditions(params)
    skip, limit = page_params(params, 100, max_limit)
    sort = sort_params(params, DIALOG_SORTS, None)
    return DialogQuery(conditions=tuple(found), sort=sort, skip=skip, limit=limit,
                       count_only=counting, archived=archived)


def _object(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise BadRequestError("The body must be an object")
    return params


def dialog_draft(params: Any, max_occupants: int, max_admins: int) -> DialogDraft:
    """`POST /chat/Dialog`: `type`, `name`, `occupants_ids` (`"8, 9"`, `[8, "9"]`, `8`),
    `admins_ids`, `description`, `photo`, `extensions`, `permissions`."""
    params = _object(params)
    dtype = _parse_type(params.get("type"))
    occupants = _parse_user_ids(params.get("occupants_ids"), "occupants_ids", max_occupants)
    admins = _parse_user_ids(params.get("admins_ids"), "admins_ids", max_admins)
    given = frozenset(k for k in ("description", "extensions", "photo", "name", "permissions",
                                  "occupants_limit") if k in params)
    if dtype == DialogType.PRIVATE:
        return DialogDraft(
            type=dtype, occupants_ids=tuple(occupants), admins_ids=tuple(admins), given=given,
            description=check_text("description", params.get("description"))
            if "description" in params else None,
            extensions=check_extensions(params["extensions"]) if "extensions" in params else None,
            occupants_limit=check_occupants_limit(params.get("occupants_limit")))
    return DialogDraft(
        type=dtype, name=check_text("name", params.get("name")),
        description=check_text("description", params.get("description")),
        photo=check_text("photo", params.get("photo")),
        occupants_ids=tuple(occupants), admins_ids=tuple(admins),
        extensions=check_extensions(params.get("extensions")),
        permissions=check_permissions(params.get("permissions")), given=given,
        occupants_limit=check_occupants_limit(params.get("occupants_limit")))


def dialog_changes(params: Any, max_ids: int) -> DialogChanges:
    """`PUT /chat/Dialog/{id}`: fields to set, `push_all` / `pull_all` of `occupants_ids`,
    `admins_ids` and `pinned_messages_ids`."""
    params = _object(params)
    texts = {key: check_text(key, params.get(key)) for key in TEXT_LIMITS if key in params}
    push = _ops(params, "push_all")
    pull = _ops(params, "pull_all")
    return DialogChanges(
        texts=texts,
        extensions=check_extensions(params["extensions"]) if "extensions" in params else None,
        set_extensions="extensions" in params,
        permissions=check_permissions(params["permissions"]) if "permissions" in params else None,
        set_permissions="permissions" in params,
        occupants_limit=check_occupants_limit(params.get("occupants_limit")),
        set_occupants_limit="occupants_limit" in params,
        occupants=IdChanges(
            tuple(_parse_user_ids(push.get("occupants_ids"), "occupants_ids", max_ids)),
            tuple(_parse_user_ids(pull.get("occupants_ids"), "occupants_ids", max_ids))),
        admins=IdChanges(tuple(_parse_user_ids(push.get("admins_ids"), "admins_ids", max_ids)),
                         tuple(_parse_user_ids(pull.get("admins_ids"), "admins_ids", max_ids))),
        pins=IdChanges(tuple(_message_ids(push.get("pinned_messages_ids"), max_ids)),
                       tuple(_message_ids(pull.get("pinned_messages_ids"), max_ids))))


def admin_changes(params: Any, max_ids: int) -> IdChanges:
    """`PUT /chat/Dialog/{id}/admins`: `push_all` / `pull_all` of `admins_ids`."""
    params = _object(params)
    push = _ops(params, "push_all")
    pull = _ops(params, "pull_all")
    return IdChanges(tuple(_parse_user_ids(push.get("admins_ids"), "admins_ids", max_ids)),
                     tuple(_parse_user_ids(pull.get("admins_ids"), "admins_ids", max_ids)))


def notifications_flag(params: dict[str, Any]) -> bool:
    """`PUT /chat/Dialog/{id}/notifications` `{"enabled": 1}`."""
    enabled = params.get("enabled")
    if enabled is None or enabled == "":
        raise InvalidError("can't be blank", field="enabled")
    return parse_flag(enabled, "enabled")


def member_flag(params: Any, name: str) -> bool:
    """`PUT /chat/Dialog/{id}/archive` `{"archived": 1}`, `/hidden` `{"hidden": 0}`."""
    value = _object(params).get(name)
    if value is None or value == "":
        raise InvalidError("can't be blank", field=name)
    return parse_flag(value, name)


def dialog_conditions(params: dict[str, Any]) -> list[Condition]:
    """ConnectyCube dialog filters (`extensions[key]` included) as conditions."""
    for name, raw in params.items():
        if name in DIALOG_FILTERS and isinstance(raw, dict):
            allowed = STRING_OPS if name in STRING_FILTERS else VALUE_OPS
            bad = [op for op in raw if op not in allowed]
            if bad:
                raise InvalidError(f"unsupported operator '{bad[0]}'", field=name)
    found = conditions(params, DIALOG_FILTERS)
    extensions = params.get("extensions")
    if extensions is not None:
        if not isinstance(extensions, dict):
            raise InvalidError("use extensions[<name>]=<value>", field="extensions")
        specs: dict[str, FieldSpec] = {}
        values: dict[str, Any] = {}
        for key, raw in extensions.items():
            if not valid_extension_key(key):
                raise InvalidError("is invalid", field="extensions")
            specs[f"extensions.{key}"] = FieldSpec(cast_str)
            values[f"extensions.{key}"] = raw
        found += conditions(values, specs)
    return found


def _parse_type(value: Any) -> DialogType:
    if value is None or value == "":
        raise InvalidError("can't be blank", field="type")
    try:
        dtype = cast_int(value)
    except (ValueError, TypeError) as exc:
        raise InvalidError("is invalid", field="type") from exc
    if dtype not in tuple(DialogType):
        raise InvalidError("must be 1 (broadcast), 2 (group), 3 (private) or 4 (public)", field="type")
    return DialogType(dtype)


def _parse_user_ids(value: Any, field_name: str, max_len: int) -> list[int]:
    """`"8, 9"`, `[8, "9"]`, `8` or a dict-shaped array (`{"0": 8}`) → distinct positive ints."""
    if isinstance(value, dict):
        value = list(value.values())
    items = split_list(value)
    if len(items) > max_len:
        raise InvalidError(f"too many ids (maximum is {max_len})", field=field_name)
    out: list[int] = []
    for item in items:
        try:
            user_id = cast_int(item)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidError("must be a list of user ids", field=field_name) from exc
        if user_id <= 0:
            raise InvalidError("must be a list of user ids", field=field_name)
        if user_id not in out:
            out.append(user_id)
    return out


def _message_ids(value: Any, max_len: int) -> list[str]:
    if isinstance(value, dict):
        value = list(value.values())
    items = split_list(value)
    if len(items) > max_len:
        raise InvalidError(f"too many ids (maximum is {max_len})", field="pinned_messages_ids")
    out: list[str] = []
    for item in items:
        if not is_object_id(item):
            raise InvalidError("must be a list of message ids", field="pinned_messages_ids")
        if item not in out:
            out.append(item)
    return out


def _ops(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field=key)
    return value


def dialog_to_json(view: DialogView) -> dict[str, Any]:
    """The Dialog object as the member `view.member` sees it (None: no per-user state).

    `last_message_status` is only shown to the author of the last message, as ConnectyCube does.
    Public dialogs list no occupants; they carry `occupants_count` instead.
    """
    dialog, member = view.dialog, view.member
    user_id = (member or {}).get("user_id")
    kind = int(dialog.type)
    last_user = dialog.last_message_user_id
    status = None
    if user_id is not None and last_user is not None and last_user == user_id:
        status = view.last_message_status or "sent"
    date_sent = dialog.last_message_date_sent
    data: dict[str, Any] = {
        "_id": dialog.id,
        "type": kind,
        "name": dialog.name,
        "description": dialog.description,
        "photo": dialog.photo,
        "user_id": dialog.user_id,
        "created_at": iso(dialog.created_at),
        "updated_at": iso(dialog.updated_at),
        "xmpp_room_jid": dialog.xmpp_room_jid,
        "occupants_ids": [] if kind == DialogType.PUBLIC else list(dialog.occupants_ids),
        "admins_ids": list(dialog.admins_ids),
        "pinned_messages_ids": [str(m) for m in dialog.pinned_messages_ids],
        "last_message": dialog.last_message,
        "last_message_id": (str(dialog.last_message_id)
                            if dialog.last_message_id is not None else None),
        "last_message_user_id": last_user,
        "last_message_date_sent": int(date_sent) if date_sent is not None else None,
        "last_message_status": status,
        "unread_messages_count": int(view.unread),
        "extensions": dict(dialog.extensions) if dialog.extensions else None,
        "permissions": ({"allow_preview": bool(dialog.permissions.get("allow_preview"))}
                        if dialog.permissions else None),
        "archived": 1 if (member or {}).get("archived") else 0,
    }
    if kind == DialogType.PUBLIC:
        data["occupants_count"] = int(dialog.occupants_count or 0)
    if dialog.occupants_limit is not None:
        data["occupants_limit"] = int(dialog.occupants_limit)
    return data


def delete_result_to_json(deleted: list[str], not_found: list[str],
                          wrong_permissions: list[str]) -> dict[str, Any]:
    return {"SuccessfullyDeleted": {"ids": deleted}, "NotFound": {"ids": not_found},
            "WrongPermissions": {"ids": wrong_permissions}}
