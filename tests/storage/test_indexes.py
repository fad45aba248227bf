"""Start-up indexes: created idempotently, obsolete ones dropped (on mongomock and, with
CHAT_TEST_MONGO_URL, on a real wire server)."""
from __future__ import annotations

from models.storage.indexes import INDEXES, OBSOLETE


async def test_indexes_are_created_twice_and_obsolete_ones_dropped(database):
    await database.db["messages"].create_index([("app_id", 1), ("message", 1)], name="search")
    await database.ensure_indexes()
    await database.ensure_indexes()  # idempotent
    info = await database.db["messages"].index_information()
    assert "search" not in info and OBSOLETE["messages"] == ["search"]
    assert {"dialog_order", "dialog_seq"} <= set(info)
    assert {m.document["name"] for m in INDEXES["dialogs"]} - {"private_pair"} <= \
        set(await database.db["dialogs"].index_information())
