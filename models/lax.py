"""Lax values as clients send them: `"1"` for true, `"8, 9"` or `["8", 9]` for a list, Unix
seconds or ISO-8601 for a time. Shared by the REST request models and the bridge's stanza readers,
so both accept the same encodings; each turns what it read into a command (models/*.py)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from models.errors import InvalidError


def split_list(value: Any) -> list[Any]:
    """Accepts `a,b`, `a, b`, `["a","b"]` and a single value."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for item in value:
            out.extend(split_list(item) if isinstance(item, str) and "," in item else [item])
        return [v for v in out if v != ""]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip() != ""]
    return [value]


# the store's integers are 64-bit (BSON int64, as MongoDB and mongomock take them): a larger number
# from a client is refused where it is read, never handed to the store (which would fail: a 500)
MAX_INT = 2**63 - 1


def cast_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        number = int(str(value).strip())
    if not -MAX_INT - 1 <= number <= MAX_INT:
        raise ValueError("out of range")
    return number


def cast_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    number = float(str(value).strip())
    return int(number) if number.is_integer() else number


def cast_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("not a string")
    return str(value)


def cast_datetime(value: Any) -> datetime:
    """Unix seconds (int/float or numeric string) or an ISO-8601 string."""
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def cast_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", "", "null"):
        return False
    raise ValueError("not a boolean")


def parse_flag(value: Any, field: str, default: bool = False,
               message: str = "must be 0 or 1") -> bool:
    """A lax request flag: `1`/`0`, `true`/`false`, a JSON boolean, the first of a repeated key;
    absent or empty = `default`; anything else is a 422 naming the field."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        raise InvalidError(message, field=field)
    try:
        return cast_bool(value)
    except ValueError as exc:
        raise InvalidError(message, field=field) from exc


def positive_int(value: Any, field: str) -> int:
    try:
        number = cast_int(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidError("must be an integer", field=field) from exc
    if number <= 0:
        raise InvalidError("must be a positive integer", field=field)
    return number


def string(value: Any, field: str) -> str:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InvalidError("must be a string", field=field)
    return value if isinstance(value, str) else str(value)


_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def is_object_id(value: Any) -> bool:
    """A 24-hex id (the form of message, dialog and client-chosen ids)."""
    return isinstance(value, str) and _OBJECT_ID.match(value) is not None
