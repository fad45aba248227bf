"""The embedded store's fast paths answer exactly what a full mongomock scan answers."""
from __future__ import annotations

import random

import pytest

from bson import ObjectId
from mongomock.filtering import filter_applies

from models.storage.embedded.tables import document_table
from models.storage.mongo import memory_database


def _brute(collection, query):
    docs = list(document_table(collection).values())
    return [d["_id"] for d in docs if filter_applies(query, d)]


async def test_fast_paths_match_full_scans():
    db = memory_database().db
    messages, members = db["messages"], db["dialog_members"]
    rng = random.Random(7)
    dialogs = [str(ObjectId()) for _ in range(4)]
    ids = []
    for i in range(300):
        op = rng.random()
        if op < 0.6 or not ids:
            oid = ObjectId()
            ids.append(oid)
            await messages.insert_one({"_id": oid, "chat_dialog_id": rng.choice(dialogs), "n": i})
            await members.update_one({"_id": f"{rng.choice(dialogs)}:{i % 7}"},
                                     {"$setOnInsert": {"dialog_id": dialogs[i % 4], "user_id": i % 7},
                                      "$set": {"hidden": False}}, upsert=True)
        elif op < 0.8:
            await messages.update_one({"_id": rng.choice(ids)}, {"$inc": {"n": 1000}})
        elif op < 0.9:
            await messages.delete_one({"_id": rng.choice(ids)})
        else:
            await messages.delete_many({"chat_dialog_id": rng.choice(dialogs), "n": {"$lt": i // 2}})
    queries = [{"chat_dialog_id": d} for d in dialogs] + [
        {"chat_dialog_id": d, "n": {"$gt": 50}} for d in dialogs] + [
        {"_id": i} for i in rng.sample(ids, 20)] + [
        {"_id": {"$in": rng.sample(ids, 10)}}, {"chat_dialog_id": "missing"}, {"n": {"$gt": 100}}]
    for query in queries:
        got = [d["_id"] async for d in messages.find(query)]
        if "$in" in str(query):  # no natural order is promised for $in (nor by MongoDB)
            assert sorted(got) == sorted(_brute(messages, query)), query
        else:
            assert got == _brute(messages, query), query
        assert await messages.count_documents(query) == len(got)
    for query in [{"dialog_id": d} for d in dialogs] + [{"user_id": u} for u in range(8)] + [
            {"dialog_id": dialogs[0], "user_id": 3}]:
        got = [d["_id"] async for d in members.find(query)]
        assert got == _brute(members, query), query
    await messages.drop()
    assert [d async for d in messages.find({"chat_dialog_id": dialogs[0]})] == []


async def test_bounded_cursors_match_full_results():
    db = memory_database().db
    col = db["messages"]
    dialog = str(ObjectId())
    for i in range(50):
        await col.insert_one({"_id": ObjectId(), "chat_dialog_id": dialog, "n": i % 7, "k": i})
    everything = [d["k"] async for d in col.find({"chat_dialog_id": dialog}).sort([("n", -1), ("k", 1)])]
    for skip, limit in [(0, 5), (3, 10), (45, 10), (60, 5), (0, 50)]:
        page = [d["k"] async for d in col.find({"chat_dialog_id": dialog}).sort([("n", -1), ("k", 1)])
                .skip(skip).limit(limit)]
        assert page == everything[skip:skip + limit]
    docs = await col.find({}).sort("k", 1).limit(3).to_list(length=3)
    assert [d["k"] for d in docs] == [0, 1, 2]
    assert docs[0]["_id"].generation_time.tzinfo is not None


def test_fast_document_helpers_match_mongomock():
    from collections import OrderedDict
    from datetime import datetime, timedelta, timezone

    from bson import SON
    from mongomock import helpers as plain

    from models.storage.embedded.documents import _fast_document_helpers

    fast = {key: fn for key, (_, _, fn) in _fast_document_helpers().items()}
    berlin = timezone(timedelta(hours=2))
    docs = [
        {"a": 1, "b": "x", "c": None, "d": True, "e": 1.5, "f": ObjectId(), "g": b"raw"},
        {"when": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=berlin),
         "naive": datetime(2026, 1, 2, 3, 4, 5, 678901)},
        {"nested": {"list": [1, {"t": datetime(2026, 5, 5, tzinfo=timezone.utc)}, (1, 2)],
                    "od": OrderedDict(b=1, a=datetime(2020, 1, 1, 0, 0, 0, 999))},
         "son": SON([("z", 1), ("y", [datetime(2021, 1, 1)])])},
        [datetime(2022, 2, 2, 2, 2, 2, 2222), {"x": []}], (1, "two"), "scalar", 7,
    ]
    for doc in docs:
        expected = plain.patch_datetime_awareness_in_document(doc)
        got = fast["patch"](doc)
        assert got == expected and type(got) is type(expected)
        if isinstance(doc, dict):
            assert got is not doc  # a copy, as mongomock's own
        aware = plain.make_datetime_timezone_aware_in_document(expected)
        got_aware = fast["aware"](expected)
        assert got_aware == aware and type(got_aware) is type(aware)
    assert fast["version"].parse("4.0") == plain.version.parse("4.0")
    from bson.errors import InvalidDocument
    from mongomock import collection as plain_collection

    original_validate = plain_collection.__dict__["_validate_data_fields"]
    for bad in ({"a\0": 1}, {"x": {"b\0": 1}}, {"x": OrderedDict([("c\0", 1)])}, {"$set": 1}):
        with pytest.raises(InvalidDocument):
            fast["validate"](bad)
    for good in ({"a": [{"b\0": 1}]}, {"x": {"y": {"z": 1}}}, {"a$": 1}):  # lists: not checked
        fast["validate"](good)
    assert callable(original_validate)


PROJECTIONS = [None, {"n": 1}, {"n": 1, "_id": 0}, {"s": 1, "tags": 1}, {"_id": 1}, {"n": 0},
               {"n": True, "missing": 1}, {"x.y": 1}]


async def test_fast_updates_and_find_one_match_mongomock():
    """The same random operations with the fast paths on and off leave the same documents and
    answer the same results."""
    from datetime import datetime, timedelta, timezone

    from models.storage.embedded.switch import fast_paths

    fast_db, plain_db = memory_database("fast").db, memory_database("plain").db
    rng = random.Random(11)
    ids = [ObjectId() for _ in range(12)] + ["text-id", 7]
    base = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)

    def random_update():
        field = rng.choice(["n", "s", "tags", "when", "dialog_id", "nested", "x.y"])
        op = rng.choice(["$set", "$inc", "$addToSet", "$unset"])
        value = rng.choice([1, 2.5, 0, "a", True, None, base + timedelta(seconds=rng.randint(0, 9)),
                            [1, 2], {"k": base}, "b"])
        update = {op: {field: value}}
        if rng.random() < 0.3:
            other = rng.choice(["m", "s", "tags"])
            if other != field:
                update.setdefault(rng.choice(["$set", "$inc"]), {})[other] = rng.choice([1, "z"])
        return update

    def random_filter():
        pick = rng.random()
        if pick < 0.5:
            return {"_id": rng.choice(ids)}
        if pick < 0.7:
            return {"_id": {"$in": rng.sample(ids, 4)}, "n": {"$gte": 1}}
        if pick < 0.85:
            return {"_id": rng.choice(ids), "s": rng.choice(["a", "b"])}
        return {"dialog_id": rng.choice(["d1", "d2"])}

    for col in ("things",):
        for db in (fast_db, plain_db):
            await db[col].create_index("u", unique=True, sparse=True)
            await db[col].create_index([("s", 1), ("n", -1)])  # not unique: metadata in mongomock
            for i, key in enumerate(ids):
                await db[col].insert_one({"_id": key, "n": i % 3, "s": "a" if i % 2 else "b",
                                          "tags": [1], "dialog_id": f"d{i % 2 + 1}", "when": base})

    async def both(call):
        with fast_paths(True):
            try:
                fast = ("ok", await call(fast_db["things"]))
            except Exception as exc:  # noqa: BLE001 - compared below
                fast = ("error", type(exc).__name__)
        with fast_paths(False):
            try:
                plain = ("ok", await call(plain_db["things"]))
            except Exception as exc:  # noqa: BLE001
                plain = ("error", type(exc).__name__)
        return fast, plain

    for _ in range(600):
        choice = rng.random()
        filter_, update = random_filter(), random_update()
        if choice < 0.35:
            fast, plain = await both(lambda c: c.update_one(filter_, update))
            fast = (fast[0], (fast[1].matched_count, fast[1].modified_count)) if fast[0] == "ok" else fast
            plain = (plain[0], (plain[1].matched_count, plain[1].modified_count)) if plain[0] == "ok" else plain
        elif choice < 0.55:
            fast, plain = await both(lambda c: c.update_many(filter_, update))
            fast = (fast[0], (fast[1].matched_count, fast[1].modified_count)) if fast[0] == "ok" else fast
            plain = (plain[0], (plain[1].matched_count, plain[1].modified_count)) if plain[0] == "ok" else plain
        elif choice < 0.75:
            after, projection = rng.random() < 0.5, rng.choice(PROJECTIONS)
            fast, plain = await both(lambda c: c.find_one_and_update(
                filter_, update, projection=projection, return_document=after))
        else:
            projection = rng.choice(PROJECTIONS)
            fast, plain = await both(lambda c: c.find_one(filter_, projection))
        assert fast == plain, (filter_, update, fast, plain)
        if rng.random() < 0.1:  # the stored documents stay the same too
            a = sorted([d async for d in fast_db["things"].find({})], key=str)
            b = sorted([d async for d in plain_db["things"].find({})], key=str)
            assert a == b, (filter_, update, fast, plain, [(x, y) for x, y in zip(a, b) if x != y])
    # a unique field is never updated in place: mongomock checks it
    from pymongo.errors import DuplicateKeyError
    await fast_db["things"].update_one({"_id": ids[0]}, {"$set": {"u": "taken"}})
    with pytest.raises(DuplicateKeyError):
        await fast_db["things"].update_one({"_id": ids[1]}, {"$set": {"u": "taken"}})
    await fast_db["things"].update_one({"_id": ids[0]}, {"$unset": {"u": 1}})
    everything_fast = [d async for d in fast_db["things"].find({})]
    everything_plain = [d async for d in plain_db["things"].find({})]
    assert sorted(everything_fast, key=str) == sorted(everything_plain, key=str)


async def test_compiled_filters_and_native_sorts_match_mongomock():
    """Random documents with mixed value types, random filters and sorts: the same answers with
    the fast paths on and off."""
    from datetime import datetime, timedelta

    from models.storage.embedded.switch import fast_paths

    rng = random.Random(5)
    oids = [ObjectId() for _ in range(4)]
    base = datetime(2026, 1, 1)

    def value():
        return rng.choice([1, 2, 3, 7, "a", "b", "1", oids[0], oids[1], True, False, None, 2.0, 1.5,
                           [1, 2], ["a"], [], [oids[0]], [True], {"k": 1}, base + timedelta(days=rng.randint(0, 3))])

    fast_db, plain_db = memory_database("fast-f").db, memory_database("plain-f").db
    for i in range(120):
        doc = {"_id": ObjectId(), "chat_dialog_id": rng.choice(["d1", "d2", "d3"])}
        for field in ("a", "b", "c", "tags"):
            if rng.random() < 0.8:
                doc[field] = value()
        if rng.random() < 0.7:
            doc["n"] = rng.randint(0, 5)  # mostly plain integers, sometimes missing
        for db in (fast_db, plain_db):
            await db["messages"].insert_one(dict(doc))

    def simple():
        return rng.choice([1, 2, "a", "1", oids[0], oids[2], 7])

    def condition():
        pick = rng.random()
        if pick < 0.3:
            return simple()
        if pick < 0.45:
            return {"$ne": simple()}
        if pick < 0.55:
            return {"$in": [simple(), simple()]}
        if pick < 0.6:
            return {"$nin": [simple()]}
        if pick < 0.75:
            return {rng.choice(["$gt", "$gte", "$lt", "$lte"]): rng.randint(0, 5)}
        if pick < 0.78:
            return {"$exists": rng.choice([True, False])}
        if pick < 0.81:
            return {"$all": [simple()] if rng.random() < 0.5 else [1, 2]}
        if pick < 0.83:
            return {rng.choice(["$lt", "$gte"]): base + timedelta(days=rng.randint(0, 3), hours=1)}
        if pick < 0.85:
            return {"$gt": 1.5}  # not compiled: mongomock decides
        if pick < 0.9:
            return True  # not compiled
        return {"$size": 1}  # not compiled

    for _ in range(300):
        query = {}
        for field in rng.sample(["a", "b", "c", "tags", "n", "chat_dialog_id"], rng.randint(1, 3)):
            query[field] = condition()
        if rng.random() < 0.1:
            query = {"$and": [query, {"n": {"$ne": 3}}]}
        sort = [(k, rng.choice([1, -1])) for k in rng.sample(["n", "a", "_id", "chat_dialog_id"],
                                                                 rng.randint(0, 2))]
        results = []
        for enabled, db in ((True, fast_db), (False, plain_db)):
            with fast_paths(enabled):
                try:
                    cursor = db["messages"].find(query)
                    if sort:
                        cursor = cursor.sort(sort)
                    found = [d async for d in cursor]  # whole documents: the copies too
                    count = await db["messages"].count_documents(query)
                    results.append((found, count))
                except Exception as exc:  # noqa: BLE001 - compared below
                    results.append(("error", type(exc).__name__))
        assert results[0] == results[1], (query, sort)
        projection = rng.choice([{"_id": 1}, {"n": 1}, {"a": 1, "_id": 0}])
        projected = []
        for enabled, db in ((True, fast_db), (False, plain_db)):
            with fast_paths(enabled):
                try:
                    projected.append(await db["messages"].find(query, projection).limit(7).to_list(7))
                except Exception as exc:  # noqa: BLE001 - compared below
                    projected.append(("error", type(exc).__name__))
        assert projected[0] == projected[1], (query, projection)


async def test_fast_inserts_match_mongomock():
    """Inserts by BSON round trip store and answer what mongomock's own path does, refuse the same
    documents with the same errors, and leave the caller's document alone (except its new `_id`)."""
    from datetime import datetime, timedelta, timezone

    from models.storage.embedded.switch import fast_paths

    base = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    good = [
        {"_id": "a", "n": 1, "when": base, "naive": datetime(2026, 1, 1, 0, 0, 0, 999999),
         "nested": {"list": [1, {"deep": base}, [base, "x"]], "empty": {}}, "none": None,
         "f": 2.5, "b": True, "big": 2 ** 40, "bytes": b"\x00\x01", "oid": ObjectId("65a1b2c3d4e5f6a7b8c9d0e1")},
        {"n": 2, "u": "one"},  # _id assigned
        {"_id": ObjectId("65a1b2c3d4e5f6a7b8c9d0e2"), "u": "two", "s": "dots.in.values"},
    ]
    bad = [
        {"_id": "a", "n": 9},  # duplicate _id
        {"_id": "c", "u": "one"},  # duplicate on a unique index
        {"_id": "d", "$top": 1},  # top-level $
        {"_id": "e", "nested": {"bad\0key": 1}},  # NUL in a key
        {"_id": "f", "s": {1, 2}},  # not a BSON type
        {"_id": {"compound": 1}, "n": 3},  # a document as _id: mongomock's path
    ]
    results = {}
    for enabled in (True, False):
        db = memory_database(f"inserts-{enabled}").db
        await db["things"].create_index("u", unique=True, sparse=True)
        with fast_paths(enabled):
            given = [dict(doc) for doc in good]
            await db["things"].insert_one(given[0])
            await db["things"].insert_many(given[1:])
            assert "_id" in given[1] and given[0]["when"] is base  # the caller's values stay
            errors = []
            for doc in bad:
                try:
                    await db["things"].insert_one(dict(doc))
                    errors.append("ok")
                except Exception as exc:  # noqa: BLE001 - compared below
                    errors.append(type(exc).__name__)
            try:
                await db["things"].insert_many([{"_id": "g"}, {"_id": "g"}, {"_id": "h"}])
            except Exception as exc:  # noqa: BLE001
                errors.append(type(exc).__name__)
            stored = [d async for d in db["things"].find({}, {"_id": 0})]
            results[enabled] = (errors, stored, await db["things"].count_documents({}))
    fast, plain = results[True], results[False]
    assert fast[0] == plain[0] and "ok" not in fast[0][:5]
    assert fast[2] == plain[2]
    assert fast[1] == plain[1]


async def test_history_pages_and_seq_ranges_match_plain_mongomock():
    """The ordered history walk (embedded/messages.py) and the `seq` range candidates
    (lookups.py) answer what plain mongomock's filter-and-sort does, over random dialogs whose
    messages arrive out of order, tie on `date_sent`, get their `seq` or `date_sent` changed,
    get deleted, and sometimes lack a field (that dialog then goes the generic way)."""
    from models.queries import Condition, Op
    from models.storage.embedded.lookups import complete_group
    from models.storage.embedded.messages import EmbeddedMessageStore
    from models.storage.embedded.switch import fast_paths
    from models.storage.embedded.tables import collection_store
    from models.storage.messages import MessageStore

    db = memory_database("history").db
    fast, plain = EmbeddedMessageStore(db), MessageStore(db)
    col = db["messages"]
    rng = random.Random(5)
    dialogs = [str(ObjectId()) for _ in range(3)]
    ids: list[ObjectId] = []
    for i in range(400):
        doc = {"_id": ObjectId(), "app_id": 1, "chat_dialog_id": rng.choice(dialogs),
               "sender_id": rng.choice([1, 2, 3]), "message": f"m{i}", "seq": i + 1,
               "date_sent": rng.choice([1000 + i, 1000 + i // 7, 5000 - i, 1000]),
               "read_ids": rng.sample([1, 2, 3], rng.randint(0, 2)),
               "deleted_for": [2] if rng.random() < 0.1 else [], "attachments": [], "custom": {}}
        if doc["chat_dialog_id"] == dialogs[2] and rng.random() < 0.05:
            doc.pop(rng.choice(["date_sent", "seq"]))  # not in an index: this dialog scans
        await col.insert_one(doc)
        ids.append(doc["_id"])
        if rng.random() < 0.1:  # an indexed field changes: the document is indexed again
            await col.update_one({"_id": rng.choice(ids)},
                                 {"$set": {rng.choice(["seq", "date_sent"]): rng.randint(1, 500)}})
        if rng.random() < 0.05:
            await col.delete_one({"_id": ids.pop(rng.randrange(len(ids)))})

    conditions = [(), (Condition("sender_id", Op.eq, 2),), (Condition("date_sent", Op.gt, 1100),)]
    walked = 0
    for _ in range(300):
        dialog, viewer = rng.choice(dialogs), rng.choice([1, 2, 3])
        after, read = rng.choice([0, 0, 50, 200]), rng.choice([None, True, False])
        direction = rng.choice([1, -1])
        sort = (("date_sent", direction), ("seq", direction), ("_id", direction))
        if rng.random() < 0.2:
            sort = (("seq", -1), ("_id", -1))  # another order: the generic way
        skip, limit = rng.choice([0, 0, 3, 40]), rng.choice([1, 20, 100])
        args = (1, dialog, viewer, after, rng.choice(conditions), read, sort, skip, limit)
        with fast_paths(True):
            got = [m.id for m in await fast.page_history(*args)]
            unread = await fast.count_unread(dialog, viewer, after)
            last = await fast.last_visible(dialog, viewer, after)
            first = await fast.first_unread_seq(dialog, viewer, after)
            upto = after + rng.choice([0, 5, 150])
            ranged = [m.id for m in await fast.unread_in_range(1, dialog, viewer, after, upto, 500)]
        with fast_paths(False):
            assert ranged == [m.id for m in await plain.unread_in_range(1, dialog, viewer, after,
                                                                        upto, 500)]
            want = [m.id for m in await plain.page_history(*args)]
            assert unread == await plain.count_unread(dialog, viewer, after)
            assert last == await plain.last_visible(dialog, viewer, after)
            assert first == await plain.first_unread_seq(dialog, viewer, after)
        assert got == want, args
        walked += complete_group(collection_store(col), dialog, "history") is not None
    assert walked > 150  # most pages took the walk (dialogs[2] lacks fields: the generic way)
