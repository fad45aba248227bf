"""Domain conditions (models/queries.py) → Mongo queries. The only place the filter language
meets Mongo's operators."""
from __future__ import annotations

import re
from typing import Any, Iterable

from models.queries import Condition, Op

Doc = dict[str, Any]

_LIST_OPS = {Op.in_: "$in", Op.nin: "$nin", Op.all: "$all"}
_VALUE_OPS = {Op.ne: "$ne", Op.lt: "$lt", Op.lte: "$lte", Op.gt: "$gt", Op.gte: "$gte"}


def _clause(condition: Condition) -> Doc:
    op = condition.op
    if op in _LIST_OPS:
        return {_LIST_OPS[op]: list(condition.value)}
    if op is Op.contains:
        return {"$regex": re.escape(str(condition.value)), "$options": "i"}
    if op is Op.starts_with:
        return {"$regex": "^" + re.escape(str(condition.value)), "$options": "i"}
    if op is Op.eq:
        return {"$eq": condition.value}
    return {_VALUE_OPS[op]: condition.value}


def compile_conditions(conditions: Iterable[Condition]) -> Doc:
    """One Mongo query: conditions on one field are combined; a lone `eq` is a plain value."""
    by_field: dict[str, Doc] = {}
    for condition in conditions:
        by_field.setdefault(condition.field, {}).update(_clause(condition))
    return {field: (clause["$eq"] if list(clause) == ["$eq"] else clause)
            for field, clause in by_field.items()}
