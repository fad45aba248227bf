"""Speed-ups for mongomock, applied process-wide once, when the embedded store is opened
(`database.py`: `open_embedded`), never at import time.

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
New plain documents are validated and copied by one BSON round trip (`inserts.py`).
Updates of a few top-level, unindexed fields (`$set`, `$inc`, `$addToSet` of a scalar, `$unset`;
sequence numbers, read positions, outbox `done_by`) are applied in place without mongomock's
deep-copied snapshot, and `find_one` pinned by `_id` skips the cursor machinery; anything else
goes to mongomock. `switch.fast_paths(False)` turns these off (the tests compare both).
Tested against plain mongomock in tests/storage/test_embedded.py.
"""
from __future__ import annotations

from pymongo import ReturnDocument

from models.storage.embedded import switch
from models.storage.embedded.cursors import _native_sort, _native_sort_keys, _raw_dataset
from models.storage.embedded.documents import _fast_document_helpers, _plain_copy
from models.storage.embedded.filters import compile_filter
from models.storage.embedded.inserts import fast_insert
from models.storage.embedded.lookups import (EQUALITY_INDEXES, ORDERED_INDEXES, _id_candidates,
                                              _index_add, _index_remove, _indexed_candidates,
                                              _order_add, _order_remove, _range_candidates,
                                              index_fields)
from models.storage.embedded.updates import _apply, _can_apply, _inclusion, _indexed_fields, _plan_update

_PATCHED = False


def _may_touch(document: Any, fields: frozenset[str]) -> bool:
    """Whether an update (operators, or a whole replacement) may set one of `fields`."""
    if not isinstance(document, dict):
        return True
    if not any(isinstance(k, str) and k.startswith("$") for k in document):
        return True  # a replacement
    for op, changes in document.items():
        if not isinstance(changes, dict):
            return True
        for name, value in changes.items():
            if str(name).split(".")[0] in fields:
                return True
            if op == "$rename" and str(value).split(".")[0] in fields:
                return True
    return False


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
        if ORDERED_INDEXES.get(self.name):
            old = self._documents.get(key)
            if old is not None:
                _order_remove(self, key, old)
            _order_add(self, key, val)
        original_set(self, key, val)

    def __delitem__(self, key):
        if EQUALITY_INDEXES.get(self.name):
            _index_remove(self, key, self._documents.get(key))
        if ORDERED_INDEXES.get(self.name):
            _order_remove(self, key, self._documents.get(key))
        original_del(self, key)

    def drop(self):
        self.__dict__.pop("_eq_index", None)
        self.__dict__.pop("_ord_index", None)
        original_drop(self)

    def _iter_documents(self, filter):  # noqa: A002 - mongomock's signature
        keys = _id_candidates(filter)
        rest = filter
        if keys is not None:
            # a document found under its key matches the `_id` clause already
            rest = {k: v for k, v in filter.items() if k != "_id"}
        else:
            keys = _range_candidates(self._store, filter) if switch.ON else None
            if keys is None:
                keys = _indexed_candidates(self._store, filter)
        compiled = compile_filter(rest) if switch.ON else None

        def applies(doc):
            if compiled is not None:
                result = compiled(doc)
                if result is not None:
                    return result
            return filter_applies(rest, doc)

        if keys is None:
            if compiled is None or self._store.is_empty:
                return original(self, filter)
            store = self._store
            store._remove_expired_documents()  # what its `documents` generator does first
            return (doc for doc in list(store._documents.values()) if applies(doc))
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

    def reindexing_update(self, spec, document, **kwargs):
        """mongomock's update, which changes stored documents in place (not through
        `CollectionStore.__setitem__`): when it may set an indexed field, the matched documents
        are indexed again from what they held before and after (lookups.py)."""
        store = self._store
        fields = index_fields(self.name)
        if not fields or not _may_touch(document, fields):
            return original_update(self, spec, document, **kwargs)
        before = {doc["_id"]: {f: doc.get(f) for f in fields if f in doc}
                  for doc in list(self._iter_documents(helpers.patch_datetime_awareness_in_document(spec)))
                  if isinstance(doc, dict) and "_id" in doc}
        try:
            return original_update(self, spec, document, **kwargs)
        finally:
            for key, old in before.items():
                doc = store._documents.get(key)
                if doc is not None and all(doc.get(f) == old.get(f) and (f in doc) == (f in old)
                                           for f in fields):
                    continue  # nothing indexed changed: its place in the indexes stays
                _index_remove(store, key, old)
                _order_remove(store, key, old)
                if doc is not None:
                    _index_add(store, key, doc)
                    _order_add(store, key, doc)

    def _update(self, spec, document, upsert=False, manipulate=False, multi=False,
                check_keys=False, hint=None, session=None, collation=None, let=None,
                array_filters=None, **kwargs):
        steps = None
        if switch.ON and not (upsert or manipulate or check_keys or hint or session or collation
                          or let or array_filters or kwargs) and type(spec) is dict:
            steps = _plan_update(document, _indexed_fields(self))
        if steps is None:
            return reindexing_update(self, spec, document, upsert=upsert, manipulate=manipulate,
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
            return reindexing_update(self, spec, document, multi=multi)  # mongomock decides
        modified = sum(1 for doc in matched if _apply(doc, steps, patch))
        return {"connectionId": self.database.client._id, "err": None, "n": len(matched),
                "nModified": modified, "ok": 1, "upserted": None,
                "updatedExisting": bool(matched)}

    def find_one(self, filter=None, *args, **kwargs):  # noqa: A002 - mongomock's signature
        keys = None
        fields = None
        if switch.ON and type(filter) is dict and len(args) <= 1:
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
        plain = switch.ON and fields is None and as_class is dict
        keys = _native_sort_keys(sort) if switch.ON and sort else None
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
        fields = _inclusion(projection) if switch.ON else False
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
        if return_document is ReturnDocument.AFTER:
            before = None
        elif fields is not None:  # only the projected fields need to survive the update
            before = {k: _plain_copy(doc[k]) for k in fields if k in doc}
        else:
            before = _plain_copy(doc)
        _apply(doc, steps, patch)
        result = doc if before is None else before
        if fields is not None:
            result = {k: result[k] for k in fields if k in result}
        if self.codec_options.tz_aware:
            return helpers.make_datetime_timezone_aware_in_document(result)
        return _plain_copy(result)

    original_delete = Collection._delete

    def _delete(self, filter, collation=None, hint=None, multi=False, session=None):  # noqa: A002
        if not switch.ON or collation or hint or session or type(filter) is not dict:
            return original_delete(self, filter, collation=collation, hint=hint, multi=multi,
                                   session=session)
        keys = []
        for doc in self._iter_documents(helpers.patch_datetime_awareness_in_document(filter)):
            key = doc["_id"]
            if isinstance(key, dict):  # mongomock keys those by a hashdict: its own path
                return original_delete(self, filter, multi=multi)
            keys.append(key)
            if not multi:
                break
        for key in keys:  # found first, deleted after: no document copies, as mongomock's result
            del self._store[key]
        return {"connectionId": self.database.client._id, "n": len(keys), "ok": 1.0, "err": None}

    Collection._insert = fast_insert(Collection._insert)
    Collection._find_and_modify = _find_and_modify
    Collection._delete = _delete
    Collection._get_dataset = _get_dataset
    Collection._update = _update
    Collection.find_one = find_one
    Collection._iter_documents = _iter_documents
    Cursor._compute_results = _compute_results
    CollectionStore.__setitem__ = __setitem__
    CollectionStore.__delitem__ = __delitem__
    CollectionStore.drop = drop
    _PATCHED = True
