"""Applications: the default one is created at start-up so a fresh install can be used at once."""
from __future__ import annotations

import logging

from config.settings import AppSettings
from models.clock import Clock
from models.storage.apps import AppStore

logger = logging.getLogger(__name__)


class AppService:
    def __init__(self, apps: AppStore, clock: Clock) -> None:
        self._apps = apps
        self._clock = clock

    async def ensure_default(self, settings: AppSettings) -> None:
        created = await self._apps.ensure({
            "_id": settings.id,
            "title": settings.title,
            "auth_key": settings.auth_key.get_secret_value(),
            "auth_secret": settings.auth_secret.get_secret_value(),
            "created_at": self._clock.now(),
        })
        if created:
            logger.info("created the default application id=%s", settings.id)
