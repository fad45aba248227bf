"""The embedded store's `Database`: a mongomock-motor client in this process's memory.

Opening it applies the mongomock speed-ups (process-wide, once: `patches.py`). Its stores are the
embedded ones (`LocalOutboxStore`, `EmbeddedPushJobStore`, `EmbeddedArchiveStore`,
`EmbeddedMessageStore`), its indexes those mongomock models,
and its id is new at every start: nothing it holds outlives the process."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from mongomock_motor import AsyncMongoMockClient

from models.storage.embedded import indexes
from models.storage.embedded.archive import EmbeddedArchiveStore
from models.storage.embedded.messages import EmbeddedMessageStore
from models.storage.embedded.blocklist import EmbeddedBlocklistStore
from models.storage.embedded.outbox import LocalOutboxStore
from models.storage.embedded.patches import speed_up_mongomock
from models.storage.embedded.push_jobs import EmbeddedPushJobStore
from models.storage.mongo import Database

STORE_ID_PREFIX = "embedded-"  # bridge/prosody.py forgets Prosody state of earlier ones by it


@dataclass
class EmbeddedDatabase(Database):
    @property
    def kind(self) -> str:
        return "mongomock-motor (in memory)"

    def outbox_store(self) -> LocalOutboxStore:
        return LocalOutboxStore(self.db)

    def push_job_store(self) -> EmbeddedPushJobStore:
        return EmbeddedPushJobStore(self.db)

    def archive_store(self) -> EmbeddedArchiveStore:
        return EmbeddedArchiveStore(self.db)

    def message_store(self) -> EmbeddedMessageStore:
        return EmbeddedMessageStore(self.db)
    def blocklist_store(self) -> EmbeddedBlocklistStore:
        return EmbeddedBlocklistStore(self.db)

    async def ensure_indexes(self) -> None:
        await indexes.ensure_indexes(self.db)

    async def store_id(self) -> str:
        """A new id every time: the embedded store is new in every process."""
        return f"{STORE_ID_PREFIX}{uuid.uuid4().hex}"

    async def _ping(self) -> None:
        await self.db.list_collection_names()


def open_embedded(name: str) -> EmbeddedDatabase:
    """A fresh in-memory database named `name`, on its own client."""
    speed_up_mongomock()
    client = AsyncMongoMockClient(tz_aware=True)
    return EmbeddedDatabase(client=client, db=client[name])
