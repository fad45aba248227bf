"""Compiled filters. A filter made of top-level equality, `$ne`, `$in`, `$nin`, `$all`, `$exists`,
and integer or date comparisons is turned into Python closures once per query. Each returns True / False for documents whose values
are plain strings, integers or ObjectIds (or lists of them), and None ("ask mongomock") for
anything else, so mongomock's `filter_applies` still decides every unusual case.
"""
from __future__ import annotations

from datetime import datetime as _datetime
from typing import Any

from bson import ObjectId


_SIMPLE = frozenset({str, int, ObjectId})
_MISSING = object()
_COMPARE = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
            "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}


def _eq_one(value: Any, wanted: Any) -> bool | None:
    kind = type(value)
    if kind is type(wanted):
        return value == wanted
    if kind in _SIMPLE:
        return False  # MongoDB never equates a string, an integer and an ObjectId
    return None


def _any(results) -> bool | None:
    """Tri-state OR: True if one is True, else None if one is unknown, else False."""
    unknown = False
    for result in results:
        if result:
            return True
        if result is None:
            unknown = True
    return None if unknown else False


def _not(result: bool | None) -> bool | None:
    return None if result is None else not result


def _eq(value: Any, wanted: Any) -> bool | None:
    if value is _MISSING:
        return False
    if type(value) is list:
        return _any(_eq_one(item, wanted) for item in value)
    return _eq_one(value, wanted)


def _predicate(op: str, wanted: Any):
    if op == "$eq" and type(wanted) in _SIMPLE:
        return lambda v: _eq(v, wanted)
    if op == "$ne" and type(wanted) in _SIMPLE:
        return lambda v: _not(_eq(v, wanted))
    if op in ("$in", "$nin") and type(wanted) in (list, tuple) and wanted \
            and all(type(w) in _SIMPLE for w in wanted):
        options = list(wanted)
        if op == "$in":
            return lambda v: _any(_eq(v, w) for w in options)
        return lambda v: _not(_any(_eq(v, w) for w in options))
    if op in _COMPARE and (type(wanted) is int or (type(wanted) is _datetime and wanted.tzinfo is None)):
        # (stored dates are naive UTC; mongomock normalises query dates before filtering)
        compare, kind = _COMPARE[op], type(wanted)

        def ordered(v):
            if type(v) is kind:
                return compare(v, wanted)
            if type(v) in _SIMPLE or (kind is int and type(v) is _datetime):
                return False  # other types never compare with a number or a date in a query
            return None
        return ordered
    if op == "$all" and type(wanted) in (list, tuple) and wanted \
            and all(type(w) in _SIMPLE for w in wanted):
        required = list(wanted)

        def all_of(v):
            if type(v) is not list:
                return None  # a scalar against $all: mongomock decides
            return _not(_any(_not(_eq(v, w)) for w in required))  # all = not any missing
        return all_of
    if op == "$exists" and type(wanted) is bool:
        return lambda v: (v is not _MISSING) == wanted
    return None


def compile_filter(filter_: Any):
    """A `doc → True/False/None` matcher for the filter, or None when it has anything beyond the
    simple forms above (then mongomock alone decides)."""
    if type(filter_) is not dict:
        return None
    checks = []
    for field, cond in filter_.items():
        if field == "$and" and type(cond) is list and cond:
            parts = [compile_filter(c) for c in cond]
            if any(p is None for p in parts):
                return None
            checks.append((None, parts))
            continue
        if type(field) is not str or not field or field.startswith("$") or "." in field:
            return None
        if type(cond) is dict:
            if not cond or not all(type(k) is str and k.startswith("$") for k in cond):
                return None
            for op, wanted in cond.items():
                test = _predicate(op, wanted)
                if test is None:
                    return None
                checks.append((field, test))
        else:
            test = _predicate("$eq", cond)
            if test is None:
                return None
            checks.append((field, test))

    def match(doc: dict) -> bool | None:
        unknown = False
        for field, test in checks:
            if field is None:
                results = [part(doc) for part in test]
                if False in results:
                    return False
                if None in results:
                    unknown = True
                continue
            result = test(doc.get(field, _MISSING))
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True

    return match
