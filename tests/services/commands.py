"""Commands for service tests, read from the request parameters a REST client would send (the
REST request models do the reading, so a test states its input the way the wire does)."""
from __future__ import annotations

from typing import Any

from rest.schemas.dialogs import dialog_changes, dialog_draft, dialog_query
from rest.schemas.messages import HistoryParams, UpdateMessagesParams, unread_dialog_ids

MAX = 1000


def history(params: dict[str, Any]):
    return HistoryParams.model_validate(params).to_command(MAX)


def message_update(ids: list[str] | None, params: dict[str, Any]):
    return UpdateMessagesParams.model_validate(params).to_command(ids)


def unread_ids(value: Any):
    return unread_dialog_ids({"chat_dialog_ids": value})


def new_dialog(params: dict[str, Any]):
    return dialog_draft(params, MAX, MAX)


def dialog_change(params: dict[str, Any]):
    return dialog_changes(params, MAX)


def dialog_list(params: dict[str, Any]):
    return dialog_query(params, MAX)
