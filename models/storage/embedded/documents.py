"""Per-document walks: mongomock's date normalisation, time zones, key validation and version
checks in type-dispatched versions, and plain deep copies of stored documents."""
from __future__ import annotations

import functools
from datetime import datetime as _datetime
from typing import Any

from bson import ObjectId

_SCALARS = frozenset({str, int, float, bool, type(None), ObjectId, bytes})
_IMMUTABLE = _SCALARS | {_datetime}


def _fast_document_helpers() -> dict[str, Any]:
    """Type-dispatched versions of mongomock's per-document walks: plain scalars are returned as
    they are, exact dicts and lists are walked, anything else goes to mongomock's own function."""
    from collections.abc import Mapping
    from datetime import timezone

    from mongomock import collection as mcollection
    from mongomock import helpers
    from packaging import version as pversion

    scalars = _SCALARS
    original_patch = helpers.patch_datetime_awareness_in_document
    original_aware = helpers.make_datetime_timezone_aware_in_document

    def patch_datetime_awareness_in_document(value):
        kind = type(value)
        if kind is dict:
            return {k: v if type(v) in scalars else patch_datetime_awareness_in_document(v)
                    for k, v in value.items()}
        if kind is list:
            return [v if type(v) in scalars else patch_datetime_awareness_in_document(v)
                    for v in value]
        if kind is _datetime:
            micro = (value.microsecond // 1000) * 1000
            if value.tzinfo is not None:
                return (value - value.utcoffset()).replace(tzinfo=None, microsecond=micro)
            return value.replace(microsecond=micro)
        if kind in scalars:
            return value
        return original_patch(value)

    utc = helpers.utc if hasattr(helpers, "utc") else timezone.utc

    def make_datetime_timezone_aware_in_document(value):
        kind = type(value)
        if kind is dict:
            return {k: v if type(v) in scalars else make_datetime_timezone_aware_in_document(v)
                    for k, v in value.items()}
        if kind is list:
            return [v if type(v) in scalars else make_datetime_timezone_aware_in_document(v)
                    for v in value]
        if kind is _datetime:
            return value.replace(tzinfo=utc)
        if kind in scalars:
            return value
        return original_aware(value)

    invalid_document = mcollection.InvalidDocument

    def check_keys(data):
        for key, value in data.items():
            if "\0" in key:
                raise invalid_document(f"Field names cannot contain the null character (found: {key})")
            kind = type(value)
            if kind is dict:
                check_keys(value)
            elif kind is not list and kind not in scalars and isinstance(value, Mapping):
                check_keys(value)

    def _validate_data_fields(data):
        """mongomock's insert validation (null characters in keys, `$` at the top level)."""
        check_keys(data)
        for key in data:
            if key.startswith("$"):
                raise invalid_document("Top-level field names cannot start with the \"$\" sign "
                                       f"(found: {key})")

    class CachedVersion:
        """packaging.version with `parse` memoised (mongomock compares pymongo's version on
        every insert, update and find)."""
        parse = staticmethod(functools.lru_cache(maxsize=64)(pversion.parse))
        Version = pversion.Version

    return {"patch": (helpers, "patch_datetime_awareness_in_document",
                      patch_datetime_awareness_in_document),
            "aware": (helpers, "make_datetime_timezone_aware_in_document",
                      make_datetime_timezone_aware_in_document),
            "version": (mcollection, "version", CachedVersion),
            "validate": (mcollection, "_validate_data_fields", _validate_data_fields)}


def _plain_copy(value: Any) -> Any:
    """A deep copy of a stored document (dicts, lists and immutable leaves), as mongomock's
    `_copy_field` makes; other containers go through `copy.deepcopy`."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else _plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else _plain_copy(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    if isinstance(value, dict):  # OrderedDict, SON: plain dicts, as mongomock's copy gives
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    import copy
    return copy.copy(value)  # what mongomock's `_copy_field` does with other leaves
