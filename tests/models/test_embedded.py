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
