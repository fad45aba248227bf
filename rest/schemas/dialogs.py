"""Dialog ↔ wire JSON: ConnectyCube's Dialog object, field for field (the shapes are pinned by
tests/rest/test_dialogs.py)."""
from __future__ import annotations

from typing import Any

from models.services.access import PUBLIC
from rest.schemas.common import iso


def dialog_to_json(dialog: dict[str, Any], member: dict[str, Any] | None, unread: int) -> dict[str, Any]:
    """The Dialog object as the member `member` sees it (`member` None: no per-user state).

    `last_message_status` is only shown to the author of the last message, as ConnectyCube does.
    Public dialogs list no occupants; they carry `occupants_count` instead.
    """
    user_id = (member or {}).get("user_id")
    kind = int(dialog.get("type") or 0)
    last_user = dialog.get("last_message_user_id")
    status = None
    if user_id is not None and last_user is not None and last_user == user_id:
        status = dialog.get("last_message_status") or "sent"
    date_sent = dialog.get("last_message_date_sent")
    data: dict[str, Any] = {
        "_id": str(dialog["_id"]),
        "type": kind,
        "name": dialog.get("name"),
        "description": dialog.get("description"),
        "photo": dialog.get("photo"),
        "user_id": dialog.get("user_id"),
        "created_at": iso(dialog.get("created_at")),
        "updated_at": iso(dialog.get("updated_at")),
        "xmpp_room_jid": dialog.get("xmpp_room_jid"),
        "occupants_ids": [] if kind == PUBLIC else list(dialog.get("occupants_ids") or []),
        "admins_ids": list(dialog.get("admins_ids") or []),
        "pinned_messages_ids": [str(m) for m in dialog.get("pinned_messages_ids") or []],
        "last_message": dialog.get("last_message"),
        "last_message_id": (str(dialog["last_message_id"])
                            if dialog.get("last_message_id") is not None else None),
        "last_message_user_id": last_user,
        "last_message_date_sent": int(date_sent) if date_sent is not None else None,
        "last_message_status": status,
        "unread_messages_count": int(unread),
        "extensions": dict(dialog["extensions"]) if dialog.get("extensions") else None,
        "permissions": ({"allow_preview": bool(dialog["permissions"].get("allow_preview"))}
                        if dialog.get("permissions") else None),
    }
    if kind == PUBLIC:
        data["occupants_count"] = int(dialog.get("occupants_count") or 0)
    return data


def delete_result_to_json(deleted: list[str], not_found: list[str],
                          wrong_permissions: list[str]) -> dict[str, Any]:
    return {"SuccessfullyDeleted": {"ids": deleted}, "NotFound": {"ids": not_found},
            "WrongPermissions": {"ids": wrong_permissions}}
