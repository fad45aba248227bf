"""Speed-ups for the embedded in-memory store (mongomock), applied once when it is opened.

mongomock answers every query by scanning the whole collection, even `{"_id": x}`, although it
keeps documents in a dict keyed by `_id`. Lookups by `_id` (equality or `$in`) are the most common
queries here (sessions, dialogs, members, messages, outbox), so they go straight to that dict; the
full filter is still applied to the candidates, so results are the same as mongomock's own.

A few hot fields that never change after insert also get an equality index (value → ids, in
insertion order): a dialog's messages, a dialog's or a user's memberships. Queries with an equality
on one of them scan only that dialog's or user's documents instead of the whole collection.
Cursors with a limit stop after `skip + limit` documents instead of copying every match first
(mongomock copies each matching document before applying skip and limit).
Per-document helpers that mongomock runs on every write and read (date normalisation on the way
in, time zones on the way out, key validation, pymongo version checks) get type-dispatched
versions that do the same thing in a fraction of the time.
Updates of a few top-level, unindexed fields (`$set`, `$inc`, `$addToSet` of a scalar, `$unset`;
sequence numbers, read positions, outbox `done_by`) are applied in place without mongomock's
deep-copied snapshot, and `find_one` pinned by `_id` skips the cursor machinery; anything else
goes to mongomock. `fast_paths(False)` turns these off (the tests compare both).
Tested against plain mongomock in tests/models/test_embedded.py.
"""
from __future__ import annotations

import contextlib
import functools
from datetime import datetime as _datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

_PATCHED = False
_SCALARS = frozenset({str, int, float, bool, type(None), ObjectId, bytes})
_IMMUTABLE = _SCALARS | {_datetime}
_FAST = True  # the update / find_one fast paths (the tests turn them off to compare)
FAST_UPDATE_OPS = frozenset({"$set", "$inc", "$addToSet", "$unset"})

# collection → fields written once at insert and never updated (so the index cannot go stale)
EQUALITY_INDEXES: dict[str, tuple[str, ...]] = {
    "messages": ("chat_dialog_id",),
    "dialog_members": ("dialog_id", "user_id"),
}


def _id_candidates(filter_: Any) -> list[Any] | None:
    """The `_id` values a filter pins down, or None when it does not pin them."""
    if not isinstance(filter_, dict) or "_id" not in filter_:
        return None
    cond = filter_["_id"]
    if isinstance(cond, dict):
        if set(cond) == {"$in"} and isinstance(cond["$in"], (list, tuple)):
            values = cond["$in"]
        elif set(cond) == {"$eq"}:
            values = [cond["$eq"]]
        else:
            return None
    else:
        values = [cond]
    try:
        for value in values:
            hash(value)
    except TypeError:
        return None
    return list(values)


def _indexed_candidates(store: Any, filter_: Any) -> list[Any] | None:
    fields = EQUALITY_INDEXES.get(store.name)
    if not fields or not isinstance(filter_, dict):
        return None
    indexes = getattr(store, "_eq_index", None)
    if indexes is None:
        return None
    for field in fields:
        value = filter_.get(field)
        if value is None or isinstance(value, (dict, list)):
            continue
        try:
            bucket = indexes[field].get(value)
        except TypeError:
            continue
        return list(bucket) if bucket else []
    return None


def _index_add(store: Any, key: Any, doc: Any) -> None:
    fields = EQUALITY_INDEXES.get(store.name)
    if not fields:
        return
    indexes = store.__dict__.setdefault("_eq_index", {f: {} for f in fields})
    for field in fields:
        value = doc.get(field) if isinstance(doc, dict) else None
        if value is None or isinstance(value, (dict, list)):
            continue
        try:
            indexes[field].setdefault(value, {})[key] = None
        except TypeError:
            continue


def _index_remove(store: Any, key: Any, doc: Any) -> None:
    indexes = getattr(store, "_eq_index", None)
    if not indexes or not isinstance(doc, dict):
        return
    for field, index in indexes.items():
        value = doc.get(field)
        try:
            bucket = index.get(value)
        except TypeError:
            continue
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                index.pop(value, None)


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


@contextlib.contextmanager
def fast_paths(enabled: bool):
    """Turns the update and find_one fast paths on or off inside the block."""
    global _FAST
    previous, _FAST = _FAST, enabled
    try:
        yield
    finally:
        _FAST = previous


def _indexed_fields(collection: Any) -> frozenset[str]:
    """Fields an in-place update must not touch: those of unique indexes (mongomock checks them
    after each update) and of the equality indexes above. Other mongomock indexes are metadata.
    Kept on the store until its set of indexes changes."""
    store = collection._store
    names = tuple(store.indexes)
    cached = store.__dict__.get("_fast_fields")
    if cached is not None and cached[0] == names:
        return cached[1]
    fields = set(EQUALITY_INDEXES.get(collection.name, ()))
    for index in store.indexes.values():
        if not index.get("unique"):
            continue
        for key in index.get("key") or ():
            name = key[0] if isinstance(key, (list, tuple)) else key
            fields.add(str(name).split(".")[0])
    store.__dict__["_fast_fields"] = (names, frozenset(fields))
    return frozenset(fields)


_NUMBERS = (int, float)


def _plan_update(document: Any, indexed: set[str]) -> list[tuple[str, str, Any]] | None:
    """`(operator, field, value)` steps for an update the fast path can apply, else None."""
    if type(document) is not dict or not document:
        return None
    steps = []
    for op, fields in document.items():
        if op not in FAST_UPDATE_OPS or type(fields) is not dict or not fields:
            return None
        for field, value in fields.items():
            if type(field) is not str or not field or "." in field or field.startswith("$") \
                    or field == "_id" or field in indexed:
                return None
            if op == "$inc" and (type(value) not in _NUMBERS):
                return None
            if op == "$addToSet" and type(value) not in _SCALARS:
                return None
            steps.append((op, field, value))
    fields_seen = [f for _, f, _ in steps]
    if len(fields_seen) != len(set(fields_seen)):
        return None  # the same field under two operators: MongoDB refuses it, mongomock decides
    return steps


def _can_apply(doc: dict, steps: list[tuple[str, str, Any]]) -> bool:
    for op, field, _ in steps:
        if field not in doc:
            continue
        current = doc[field]
        if op == "$inc" and type(current) not in _NUMBERS:
            return False
        if op == "$addToSet" and type(current) is not list:
            return False
    return True


def _apply(doc: dict, steps: list[tuple[str, str, Any]], patch: Any) -> bool:
    """Applies the steps in place; True when the document changed."""
    changed = False
    for op, field, value in steps:
        if op == "$set":
            new = patch(value)
            if field not in doc or doc[field] != new:
                changed = True
            doc[field] = new
        elif op == "$inc":
            if value != 0 or field not in doc:
                changed = True
            doc[field] = doc.get(field, 0) + value
        elif op == "$addToSet":
            current = doc.get(field)
            if current is None and field not in doc:
                doc[field] = [value]
                changed = True
            elif value not in current:  # mongomock's (and Python's) equality, as its own path
                current.append(value)
                changed = True
        elif op == "$unset":
            if field in doc:
                del doc[field]
                changed = True
    return changed


def _inclusion(projection: Any) -> list[str] | None | bool:
    """The fields of a plain inclusion projection (`{"seq": 1}`, `_id` kept unless 0), None for
    no projection, False for anything the fast path leaves to mongomock."""
    if projection is None:
        return None
    if type(projection) is not dict or not projection:
        return False
    keep_id = True
    fields = []
    for key, value in projection.items():
        if type(key) is not str or "." in key or key.startswith("$"):
            return False
        if key == "_id":
            if value in (0, False) and type(value) in (int, bool):
                keep_id = False
                continue
            if value not in (1, True):
                return False
            continue
        if type(value) not in (int, bool) or value not in (1, True):
            return False
        fields.append(key)
    if not fields:
        return False  # only `_id` given: mongomock's rules
    return (["_id"] if keep_id else []) + fields


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


def _raw_dataset(cursor: Any):
    """The stored documents a cursor answers, in order, without copies (the caller copies them
    with their time zone), or None when the fast path does not apply: a projection, a sort
    mongomock must decide, a client without tz_aware, or a factory we do not recognise."""
    factory = cursor._factory
    if not _FAST or not cursor.collection.codec_options.tz_aware \
            or not isinstance(factory, functools.partial) or factory.keywords \
            or len(factory.args) != 4:
        return None
    spec, sort, fields, as_class = factory.args
    if fields is not None or as_class is not dict:
        return None
    keys = _native_sort_keys(sort) if sort else None
    if sort and keys is None:
        return None
    collection = cursor.collection
    dataset = collection._iter_documents(spec)
    if keys is None:
        return dataset
    return _native_sort(list(dataset), keys)


def _native_sort_keys(sort: Any) -> list[tuple[str, bool]] | None:
    if isinstance(sort, dict):
        sort = list(sort.items())
    if not isinstance(sort, (list, tuple)) or not sort:
        return None
    keys = []
    for item in sort:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        key, direction = item
        if type(key) is not str or not key or key.startswith("$") or "." in key \
                or direction not in (1, -1):
            return None
        keys.append((key, direction < 0))
    return keys


_SORT_KINDS = {int: "number", float: "number", str: "str", ObjectId: "oid", _datetime: "date"}


def _native_sort(docs: list[dict], keys: list[tuple[str, bool]]) -> list[dict] | None:
    """Sorts with Python's own comparisons when every document has each key with values of one
    kind (numbers, strings, ObjectIds or dates), as mongomock's type-ordered comparison would;
    None otherwise. Stable, key by key from the last, as mongomock does."""
    for key, _ in keys:
        kind = None
        for doc in docs:
            value = doc.get(key, _MISSING)
            this = _SORT_KINDS.get(type(value))
            if this is None or (kind is not None and this != kind):
                return None
            kind = this
    ordered = list(docs)
    for key, descending in reversed(keys):
        ordered.sort(key=lambda d: d[key], reverse=descending)
    return ordered


def speed_up_mongomock() -> None:
    global _PATCHED
    if _PATCHED:
        return
    for module, name, replacement in _fast_document_helpers().values():
        setattr(module, name, replacement)
    from mongomock.collection import Collection
    from mongomock.filtering import filter_applies
    from mongomock.store import CollectionStore

    original = Collection._iter_documents
    original_set = CollectionStore.__setitem__
    original_del = CollectionStore.__delitem__
    original_drop = CollectionStore.drop

    def __setitem__(self, key, val):
        if EQUALITY_INDEXES.get(self.name):
            old = self._documents.get(key)
            if old is not None:
                _index_remove(self, key, old)
            _index_add(self, key, val)
        original_set(self, key, val)

    def __delitem__(self, key):
        if EQUALITY_INDEXES.get(self.name):
            _index_remove(self, key, self._documents.get(key))
        original_del(self, key)

    def drop(self):
        self.__dict__.pop("_eq_index", None)
        original_drop(self)

    def _iter_documents(self, filter):  # noqa: A002 - mongomock's signature
        keys = _id_candidates(filter)
        rest = filter
        if keys is not None:
            # a document found under its key matches the `_id` clause already
            rest = {k: v for k, v in filter.items() if k != "_id"}
        else:
            keys = _indexed_candidates(self._store, filter)
        compiled = compile_filter(rest) if _FAST else None

        def applies(doc):
            if compiled is not None:
                result = compiled(doc)
                if result is not None:
                    return result
            return filter_applies(rest, doc)

        if keys is None:
            if compiled is None or self._store.is_empty:
                return original(self, filter)
            return (doc for doc in list(self._store.documents) if applies(doc))
        store = self._store
        store._remove_expired_documents()
        documents = store._documents
        found = []
        seen = set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            doc = documents.get(key)
            if doc is None or isinstance(key, bool) != isinstance(doc.get("_id"), bool):
                continue  # Python's 1 == True; MongoDB tells them apart
            if applies(doc):
                found.append(doc)
        # `$in` answers come in the order of the list, not insertion order: MongoDB promises no
        # natural order either, and callers that care sort.
        return iter(found)

    from itertools import islice

    from mongomock import helpers
    from mongomock.collection import Cursor

    original_results = Cursor._compute_results

    def _compute_results(self, with_limit_and_skip=False):
        limit = abs(self._limit or 0)
        bounded = bool(with_limit_and_skip and limit)
        key = (self._factory, self._skip, limit) if bounded else (self._factory, None, None)
        if self.__dict__.get("_fast_key") != key:
            raw = _raw_dataset(self)
            if raw is None and not bounded:
                return original_results(self, with_limit_and_skip)
            source = raw if raw is not None else self._factory()
            if bounded:
                source = islice(source, self._skip + limit)
            if raw is not None or self.collection.codec_options.tz_aware:
                # stored documents are copied here (with their time zone), as mongomock does
                docs = [helpers.make_datetime_timezone_aware_in_document(x) for x in source]
            else:
                docs = list(source)
            # the page is sliced once here: `__next__` asks for it again for every document
            self._fast_results = docs
            self._fast_page = docs[self._skip:self._skip + limit] if bounded else docs[self._skip:]
            self._fast_key = key
        return self._fast_page if with_limit_and_skip else self._fast_results

    original_update = Collection._update
    original_find_one = Collection.find_one

    def _update(self, spec, document, upsert=False, manipulate=False, multi=False,
                check_keys=False, hint=None, session=None, collation=None, let=None,
                array_filters=None, **kwargs):
        steps = None
        if _FAST and not (upsert or manipulate or check_keys or hint or session or collation
                          or let or array_filters or kwargs) and type(spec) is dict:
            steps = _plan_update(document, _indexed_fields(self))
        if steps is None:
            return original_update(self, spec, document, upsert=upsert, manipulate=manipulate,
                                   multi=multi, check_keys=check_keys, hint=hint, session=session,
                                   collation=collation, let=let, array_filters=array_filters,
                                   **kwargs)
        patch = helpers.patch_datetime_awareness_in_document
        spec = patch(spec)
        matched = []
        for doc in self._iter_documents(spec):
            matched.append(doc)
            if not multi:
                break
        if not all(_can_apply(doc, steps) for doc in matched):
            return original_update(self, spec, document, multi=multi)  # mongomock decides
        modified = sum(1 for doc in matched if _apply(doc, steps, patch))
        return {"connectionId": self.database.client._id, "err": None, "n": len(matched),
                "nModified": modified, "ok": 1, "upserted": None,
                "updatedExisting": bool(matched)}

    def find_one(self, filter=None, *args, **kwargs):  # noqa: A002 - mongomock's signature
        keys = None
        fields = None
        if _FAST and type(filter) is dict and len(args) <= 1:
            options = dict(kwargs)
            projection = args[0] if args else options.pop("projection", None)
            if options.pop("sort", None) is None and not options:
                fields = _inclusion(projection)
                if fields is not False:
                    keys = _id_candidates(filter)
        if keys is None or len(keys) != 1:
            return original_find_one(self, filter, *args, **kwargs)
        filter = helpers.patch_datetime_awareness_in_document(filter)
        store = self._store
        store._remove_expired_documents()
        doc = store._documents.get(keys[0])
        if doc is None or isinstance(keys[0], bool) != isinstance(doc.get("_id"), bool):
            return None
        rest = {k: v for k, v in filter.items() if k != "_id"}
        if rest and not filter_applies(rest, doc):
            return None
        if fields is not None:
            doc = {k: doc[k] for k in fields if k in doc}
        if self.codec_options.tz_aware:
            return helpers.make_datetime_timezone_aware_in_document(doc)  # a deep copy
        return helpers.patch_datetime_awareness_in_document(doc)  # a deep copy, dates as stored

    original_get_dataset = Collection._get_dataset

    def _get_dataset(self, spec, sort, fields, as_class):
        plain = _FAST and fields is None and as_class is dict
        keys = _native_sort_keys(sort) if _FAST and sort else None
        if (sort and keys is None) or (not sort and not plain):
            yield from original_get_dataset(self, spec, sort, fields, as_class)
            return
        dataset = self._iter_documents(spec)
        if keys is not None:
            dataset = _native_sort(list(dataset), keys)
            if dataset is None:  # values outside the simple kinds: mongomock's comparisons
                yield from original_get_dataset(self, spec, sort, fields, as_class)
                return
        for document in dataset:
            yield _plain_copy(document) if plain else self._copy_only_fields(document, fields, as_class)

    original_find_and_modify = Collection._find_and_modify

    def _find_and_modify(self, query, projection=None, update=None, upsert=False, sort=None,
                         return_document=ReturnDocument.BEFORE, session=None, **kwargs):
        fields = _inclusion(projection) if _FAST else False
        steps = None
        if fields is not False and update is not None and not (upsert or sort or session or kwargs) \
                and type(query) is dict:
            steps = _plan_update(update, _indexed_fields(self))
        if steps is None:
            return original_find_and_modify(self, query, projection, update, upsert, sort,
                                            return_document, session, **kwargs)
        patch = helpers.patch_datetime_awareness_in_document
        doc = next(iter(self._iter_documents(patch(query))), None)
        if doc is None:
            return None
        if not _can_apply(doc, steps):
            return original_find_and_modify(self, query, projection, update, upsert, sort,
                                            return_document, session, **kwargs)
        if fields is not None and not any(k in doc for k in fields):
            return None  # mongomock treats an empty projected match as no match (and updates nothing)
        before = None if return_document is ReturnDocument.AFTER else _plain_copy(doc)
        _apply(doc, steps, patch)
        result = doc if before is None else before
        if fields is not None:
            result = {k: result[k] for k in fields if k in result}
        if self.codec_options.tz_aware:
            return helpers.make_datetime_timezone_aware_in_document(result)
        return _plain_copy(result)

    Collection._find_and_modify = _find_and_modify
    Collection._get_dataset = _get_dataset
    Collection._update = _update
    Collection.find_one = find_one
    Collection._iter_documents = _iter_documents
    Cursor._compute_results = _compute_results
    CollectionStore.__setitem__ = __setitem__
    CollectionStore.__delitem__ = __delitem__
    CollectionStore.drop = drop
    _PATCHED = True


# -- compiled filters ------------------------------------------------------------------------------
# A filter made of top-level equality, `$ne`, `$in`, `$nin`, `$exists` and number comparisons is
# turned into Python closures once per query. Each returns True / False for documents whose values
# are plain strings, integers or ObjectIds (or lists of them), and None ("ask mongomock") for
# anything else, so mongomock's `filter_applies` still decides every unusual case.
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


def _eq(value: Any, wanted: Any) -> bool | None:
    if value is _MISSING:
        return False
    if type(value) is list:
        unknown = False
        for item in value:
            result = _eq_one(item, wanted)
            if result:
                return True
            if result is None:
                unknown = True
        return None if unknown else False
    return _eq_one(value, wanted)


def _predicate(op: str, wanted: Any):
    if op == "$eq" and type(wanted) in _SIMPLE:
        return lambda v: _eq(v, wanted)
    if op == "$ne" and type(wanted) in _SIMPLE:
        def ne(v):
            result = _eq(v, wanted)
            return None if result is None else not result
        return ne
    if op in ("$in", "$nin") and type(wanted) in (list, tuple) and wanted \
            and all(type(w) in _SIMPLE for w in wanted):
        options = list(wanted)

        def any_of(v):
            unknown = False
            for w in options:
                result = _eq(v, w)
                if result:
                    return True
                if result is None:
                    unknown = True
            return None if unknown else False
        if op == "$in":
            return any_of

        def none_of(v):
            result = any_of(v)
            return None if result is None else not result
        return none_of
    if op in _COMPARE and type(wanted) in (int, _datetime):
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
            unknown = False
            for w in required:
                result = _eq(v, w)
                if result is False:
                    return False
                if result is None:
                    unknown = True
            return None if unknown else True
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
