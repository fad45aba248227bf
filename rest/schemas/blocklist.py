"""`/blocklist`: the request body, the path id and the answer (the blocked users)."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from models.errors import InvalidError
from models.lax import cast_int, split_list
from models.users import User
from rest.schemas.requests import Ids, Lax, example
from rest.schemas.users import user_to_json


class BlockUsersRequest(Lax):
    model_config = example({"user_ids": [12, 13]})
    user_ids: Ids = Field(description="user ids of the caller's application: a list or a comma list")


def user_ids_from_body(params: dict[str, Any], max_ids: int) -> list[int]:
    """`user_ids`: `[8, "9"]`, `"8, 9"`, `8` or a dict-shaped array → distinct positive ints."""
    value = params.get("user_ids")
    if isinstance(value, dict):
        value = list(value.values())
    items = split_list(value)
    if not items:
        raise InvalidError("can't be blank", field="user_ids")
    if len(items) > max_ids:
        raise InvalidError(f"too many ids (maximum is {max_ids})", field="user_ids")
    out: list[int] = []
    for item in items:
        try:
            user_id = cast_int(item)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidError("must be a list of user ids", field="user_ids") from exc
        if user_id <= 0:
            raise InvalidError("must be a list of user ids", field="user_ids")
        if user_id not in out:
            out.append(user_id)
    return out


def user_id_from_path(raw: str) -> int:
    try:
        user_id = cast_int(raw)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidError("is invalid", field="user_id") from exc
    if user_id <= 0:
        raise InvalidError("is invalid", field="user_id")
    return user_id


def blocklist_to_json(users: list[User], limit: int) -> dict[str, Any]:
    """As `GET /users/v2` answers (`items` of user objects), in blocking order; `limit` is the
    longest list allowed, the whole list is always in one answer."""
    return {"limit": limit, "skip": 0, "total_entries": len(users),
            "items": [user_to_json(u) for u in users]}
