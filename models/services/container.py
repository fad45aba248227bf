"""The composition of stores and services for one process (`build_services`)."""
from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from models.clock import Clock
from models.events import EventPublisher
from models.services.apps import AppService
from models.services.sessions import SessionService
from models.services.users import UserService
from models.storage.apps import AppStore
from models.storage.counters import CounterStore
from models.storage.indexes import ensure_indexes
from models.storage.mongo import Database
from models.storage.outbox import OutboxStore
from models.storage.sessions import SessionStore
from models.storage.users import UserStore


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    publisher: EventPublisher
    outbox: OutboxStore
    apps: AppService
    users: UserService
    sessions: SessionService

    async def start(self) -> None:
        """Indexes and the default application (idempotent)."""
        await ensure_indexes(self.database.db, self.database.embedded)
        await self.apps.ensure_default(self.settings.app)


def build_services(settings: Settings, database: Database, clock: Clock | None = None,
                   publisher: EventPublisher | None = None) -> Services:
    clock = clock or Clock()
    db = database.db
    outbox = OutboxStore(db)
    publisher = publisher or outbox
    counters = CounterStore(db)
    apps_store = AppStore(db)
    users = UserService(UserStore(db), counters, clock, publisher, settings.limits.max_list_limit)
    sessions = SessionService(SessionStore(db), apps_store, counters, users, clock, settings.session)
    return Services(
        settings=settings, database=database, clock=clock, publisher=publisher, outbox=outbox,
        apps=AppService(apps_store, clock), users=users, sessions=sessions,
    )
