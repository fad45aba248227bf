"""Opens the database (`open_database`): a real MongoDB through motor, or, when no URL is set, the
embedded in-memory store (models/storage/embedded/, loaded only then).

The `Database` it returns is the one place that knows which kind it is: it hands out the stores
that differ between the two (`outbox_store`, `push_job_store`, `archive_store`), creates the indexes and names the
store (`store_id`), so the services never ask which store they run on."""
from __future__ import annotations

import logging
import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from config.settings import MongoSettings
from models.metrics import LatencyHistogram
from models.storage import indexes
from models.storage.archive import ArchiveStore
from models.storage.messages import MessageStore
from models.storage.blocklist import BlocklistStore
from models.storage.outbox import OutboxStore
from models.storage.push_jobs import PushJobStore
from models.storage.secrets import SecretStore
from models.storage.timing import timed_database

logger = logging.getLogger(__name__)


@dataclass
class Database:
    """A MongoDB database (the embedded store's is `EmbeddedDatabase`)."""

    client: Any
    db: Any

    @property
    def kind(self) -> str:
        return "mongodb"

    def timed(self, histogram: LatencyHistogram) -> "Database":
        """This database with every collection operation timed into `histogram`
        (models/storage/timing.py): the one its stores are given."""
        return dataclasses.replace(self, db=timed_database(self.db, histogram))

    def outbox_store(self) -> OutboxStore:
        return OutboxStore(self.db)

    def push_job_store(self) -> PushJobStore:
        return PushJobStore(self.db)

    def archive_store(self) -> ArchiveStore:
        return ArchiveStore(self.db)

    def message_store(self) -> MessageStore:
        return MessageStore(self.db)
    def blocklist_store(self) -> BlocklistStore:
        return BlocklistStore(self.db)

    async def ensure_indexes(self) -> None:
        await indexes.ensure_indexes(self.db)

    async def store_id(self) -> str:
        """Names this store's contents for state kept outside it (Prosody's data directory): a
        MongoDB database keeps the id its first process created (in `secrets`)."""
        return "store-" + await SecretStore(self.db).get_or_create("store_id", uuid.uuid4().hex)

    async def ping(self) -> bool:
        try:
            await self._ping()
            return True
        except Exception:  # noqa: BLE001 - health must answer, not raise
            logger.warning("store ping failed", exc_info=True)
            return False

    async def _ping(self) -> None:
        await self.client.admin.command("ping")

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def open_database(settings: MongoSettings) -> Database:
    if settings.url is None or not settings.url.get_secret_value():
        from models.storage.embedded.database import open_embedded

        database = open_embedded(settings.database)
        logger.warning(
            "CHAT_MONGO__URL is not set: using the EMBEDDED IN-MEMORY store. "
            "DATA IS NOT PERSISTED and is lost when the process stops."
        )
        return database

    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(
        settings.url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=settings.timeout_ms,
        w="majority",
    )
    return Database(client=client, db=client[settings.database])


def memory_database(name: str = "test") -> Database:
    """A fresh embedded in-memory database (tests, benchmarks)."""
    from models.storage.embedded.database import open_embedded

    return open_embedded(name)
