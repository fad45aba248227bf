"""The ConnectyCube list filter language, read from REST parameters into domain conditions.

Input is the nested form `rest.params` produces from a query string:
`{"type": {"in": "2,3"}, "name": {"ctn": "x"}, "sender_id": "7", "limit": "10"}`.
Each list endpoint declares the fields it allows and how to cast their values (`FieldSpec`);
`conditions` turns the parameters naming them into `models.queries.Condition`s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from models.errors import InvalidError
from models.lax import cast_int, cast_str, split_list
from models.queries import Condition, Op, Sort

OPERATORS = {"lt", "lte", "gt", "gte", "ne", "in", "nin", "all", "ctn", "start_with", "or"}
LIST_OPERATORS = {"in", "nin", "all", "or"}


@dataclass(frozen=True)
class FieldSpec:
    cast: Callable[[Any], Any]
    db_field: str | None = None  # defaults to the wire name


def conditions(params: dict[str, Any], fields: dict[str, FieldSpec]) -> list[Condition]:
    """The filter params that name known fields, as conditions; others are ignored."""
    out: list[Condition] = []
    for name, raw in params.items():
        spec = fields.get(name)
        if spec is None:
            continue
        field = spec.db_field or name
        clauses = raw if isinstance(raw, dict) else {"eq": raw}
        for op, value in clauses.items():
            if op not in OPERATORS and op != "eq":
                raise InvalidError(f"unknown operator '{op}'", field=name)
            try:
                out.append(_condition(field, op, value, spec))
            except (ValueError, TypeError, OverflowError) as exc:
                raise InvalidError(f"invalid value for '{name}'", field=name) from exc
    return out


def _condition(field: str, op: str, value: Any, spec: FieldSpec) -> Condition:
    if op in LIST_OPERATORS:
        items = tuple(spec.cast(v) for v in split_list(value))
        return Condition(field, Op.in_ if op == "or" else Op(op), items)
    if op == "ctn":
        return Condition(field, Op.contains, cast_str(value))
    if op == "start_with":
        return Condition(field, Op.starts_with, cast_str(value))
    if isinstance(value, list):
        value = value[0] if value else ""
    return Condition(field, Op(op), spec.cast(value))


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


def sort_params(params: dict[str, Any], allowed: dict[str, str], default: Sort | None) -> Sort | None:
    """`sort_asc=field` / `sort_desc=field` among `allowed` (wire name → stored field)."""
    for key, direction in (("sort_desc", -1), ("sort_asc", 1)):
        name = params.get(key)
        if name in (None, ""):
            continue
        if isinstance(name, list):
            name = name[0]
        if name not in allowed:
            raise InvalidError(f"can't sort by '{name}'", field=key)
        db_field = allowed[name]
        sort: list[tuple[str, int]] = [(db_field, direction)]
        if db_field != "_id":
            sort.append(("_id", direction))
        return tuple(sort)
    return default
