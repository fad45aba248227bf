"""ConnectyCube list filters → Mongo queries, shared by users, dialogs and messages.

Input is the nested form `rest.params` produces from a query string:
`{"type": {"in": "2,3"}, "name": {"ctn": "x"}, "sender_id": "7", "limit": "10"}`.
Each list endpoint declares the fields it allows and how to cast their values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from models.errors import InvalidError

OPERATORS = {"lt", "lte", "gt", "gte", "ne", "in", "nin", "all", "ctn", "start_with", "or"}
LIST_OPERATORS = {"in", "nin", "all", "or"}


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


def cast_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return int(str(value).strip())


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


@dataclass(frozen=True)
class FieldSpec:
    cast: Callable[[Any], Any]
    db_field: str | None = None  # defaults to the wire name


def build_query(params: dict[str, Any], fields: dict[str, FieldSpec]) -> dict[str, Any]:
    """Turns the filter params that name known fields into a Mongo query; others are ignored."""
    query: dict[str, Any] = {}
    for name, raw in params.items():
        spec = fields.get(name)
        if spec is None:
            continue
        db_field = spec.db_field or name
        clauses = raw if isinstance(raw, dict) else {"eq": raw}
        condition: dict[str, Any] = {}
        for op, value in clauses.items():
            if op not in OPERATORS and op != "eq":
                raise InvalidError(f"unknown operator '{op}'", field=name)
            try:
                condition.update(_clause(op, value, spec))
            except (ValueError, TypeError, OverflowError) as exc:
                raise InvalidError(f"invalid value for '{name}'", field=name) from exc
        if list(condition) == ["$eq"]:
            query[db_field] = condition["$eq"]
        else:
            existing = query.get(db_field)
            if isinstance(existing, dict):
                existing.update(condition)
            else:
                query[db_field] = condition
    return query


def _clause(op: str, value: Any, spec: FieldSpec) -> dict[str, Any]:
    if op in LIST_OPERATORS:
        items = [spec.cast(v) for v in split_list(value)]
        if op == "or":
            op = "in"
        return {f"${op}": items}
    if op == "ctn":
        return {"$regex": re.escape(cast_str(value)), "$options": "i"}
    if op == "start_with":
        return {"$regex": "^" + re.escape(cast_str(value)), "$options": "i"}
    if isinstance(value, list):
        value = value[0] if value else ""
    if op == "eq":
        return {"$eq": spec.cast(value)}
    return {f"${op}": spec.cast(value)}


def page_params(params: dict[str, Any], default_limit: int, max_limit: int,
                skip_keys: tuple[str, ...] = ("skip", "offset")) -> tuple[int, int]:
    """(skip, limit) with limits clamped; bad numbers are a 422 naming the field."""
    limit = default_limit
    skip = 0
    if params.get("limit") not in (None, ""):
        try:
            limit = cast_int(params["limit"])
        except (ValueError, TypeError) as exc:
            raise InvalidError("must be an integer", field="limit") from exc
        if limit < 0:
            raise InvalidError("must be positive", field="limit")
    for key in skip_keys:
        if params.get(key) not in (None, ""):
            try:
                skip = cast_int(params[key])
            except (ValueError, TypeError) as exc:
                raise InvalidError("must be an integer", field=key) from exc
            if skip < 0:
                raise InvalidError("must be positive", field=key)
    return skip, min(limit, max_limit)


def sort_params(params: dict[str, Any], allowed: dict[str, str],
                default: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """`sort_asc=field` / `sort_desc=field` among `allowed` (wire name → db field)."""
    for key, direction in (("sort_desc", -1), ("sort_asc", 1)):
        name = params.get(key)
        if name in (None, ""):
            continue
        if isinstance(name, list):
            name = name[0]
        if name not in allowed:
            raise InvalidError(f"can't sort by '{name}'", field=key)
        db_field = allowed[name]
        sort = [(db_field, direction)]
        if db_field != "_id":
            sort.append(("_id", direction))
        return sort
    return default
