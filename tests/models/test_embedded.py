"""The embedded store's fast paths answer exactly what a full mongomock scan answers."""
from __future__ import annotations

import random

from bson import ObjectId
from mongomock.filtering import filter_applies

from models.storage.mongo import memory_database


def _brute(collection, query):
    docs = list(collection.__dict__["_AsyncMongoMockCollection__collection"]._store._documents.values())
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
