"""Opens the database: a real MongoDB through motor, or the embedded in-memory mongomock-motor."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from config.settings import MongoSettings

logger = logging.getLogger(__name__)


@dataclass
class Database:
    client: Any
    db: Any
    embedded: bool

    @property
    def kind(self) -> str:
        return "mongomock-motor (in memory)" if self.embedded else "mongodb"

    async def ping(self) -> bool:
        try:
            if self.embedded:
                await self.db.list_collection_names()
            else:
                await self.client.admin.command("ping")
            return True
        except Exception:  # noqa: BLE001 - health must answer, not raise
            logger.warning("store ping failed", exc_info=True)
            return False

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def open_database(settings: MongoSettings) -> Database:
    if settings.url is None or not settings.url.get_secret_value():
        from mongomock_motor import AsyncMongoMockClient

        from models.storage.embedded import speed_up_mongomock

        speed_up_mongomock()
        logger.warning(
            "CHAT_MONGO__URL is not set: using the EMBEDDED IN-MEMORY store. "
            "DATA IS NOT PERSISTED and is lost when the process stops."
        )
        client = AsyncMongoMockClient(tz_aware=True)
        return Database(client=client, db=client[settings.database], embedded=True)

    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(
        settings.url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=settings.timeout_ms,
        w="majority",
    )
    return Database(client=client, db=client[settings.database], embedded=False)


def memory_database(name: str = "test") -> Database:
    """A fresh in-memory database (tests, benchmarks)."""
    from mongomock_motor import AsyncMongoMockClient

    from models.storage.embedded import speed_up_mongomock

    speed_up_mongomock()
    client = AsyncMongoMockClient(tz_aware=True)
    return Database(client=client, db=client[name], embedded=True)
