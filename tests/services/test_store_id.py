"""The store's id names Prosody's state (bridge/prosody.py): a MongoDB database keeps the one its
first process created, every start of the embedded store gets a new one, two databases differ."""
from __future__ import annotations

from models.services.container import build_services
from models.storage.embedded.database import EmbeddedDatabase


async def test_the_store_id_follows_the_database(settings, database):
    first = build_services(settings, database)
    await first.start()
    again = build_services(settings, database)
    await again.start()
    assert first.store_id and again.store_id
    if isinstance(database, EmbeddedDatabase):
        assert first.store_id.startswith("embedded-") and again.store_id != first.store_id
    else:
        assert first.store_id.startswith("store-") and again.store_id == first.store_id
        other = type(database)(client=database.client, db=database.client[database.db.name + "_b"])
        try:
            third = build_services(settings, other)
            await third.start()
            assert third.store_id.startswith("store-") and third.store_id != first.store_id
        finally:
            await database.client.drop_database(other.db.name)
