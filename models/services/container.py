"""The composition of stores and services for one process (`build_services`)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from config.settings import Settings
from models.clock import Clock
from models.events import EventPublisher
from models.metrics import Metrics
from models.services.access import AccessService, PrivateAccessMemo
from models.services.address_book import AddressBookService
from models.services.archive import ArchiveService
from models.services.admin import AdminService
from models.services.admin_stats import AdminStatsService
from models.services.apps import AppService, write_key_file
from models.services.bans import BanService
from models.services.blobs import BlobService
from models.services.blocklist import BlocklistService
from models.services.bookmarks import BookmarkService
from models.services.contacts import ContactService
from models.services.conversation import ConversationService
from models.services.dialogs import DialogService
from models.services.feed import FeedService, FeedWriter
from models.services.memberships import MembershipService
from models.services.metrics import add_store_probes
from models.services.operations import OperatorService
from models.services.messages import MessageService
from models.services.presence import PresenceRegistry
from models.services.push import PushService
from models.services.push_events import PushEventService
from models.services.rate_limits import RateLimitService
from models.services.reactions import ReactionService
from models.services.reports import ReportService
from models.services.receipts import ReceiptService
from models.services.rooms import RoomService
from models.services.search import SearchService
from models.services.sessions import SessionService
from models.services.subscriptions import SubscriptionService
from models.services.system_messages import SystemMessageService
from models.services.upload import UploadService
from models.services.users import UserService
from models.services.webpush_keys import WebPushKeyService
from models.services.vcard import VCardService
from models.services.webhooks import WebhookService
from models.storage.address_book import AddressBookStore
from models.storage.apps import AppStore
from models.storage.blobs import BlobStore
from models.storage.contacts import ContactStore, RosterVersionStore
from models.storage.counters import CounterStore
from models.storage.dialogs import DialogStore
from models.storage.feed import TombstoneStore
from models.storage.files import LocalFileStore
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.mongo import Database
from models.storage.outbox import OutboxStore
from models.storage.secrets import SecretStore
from models.storage.push_events import PushEventStore
from models.storage.refresh_tokens import RefreshTokenStore
from models.storage.reports import ReportStore
from models.storage.sessions import DeviceStore, SessionStore
from models.storage.subscriptions import SubscriptionStore
from models.storage.users import UserStore
from models.storage.webhooks import WebhookDeliveryStore, WebhookStore

logger = logging.getLogger(__name__)
ADMIN_KEY_FILE = "admin-api-key"  # under settings.data_dir: the default app's first admin key
OPERATOR_KEY_FILE = "operator-key"  # under settings.data_dir: the operator routes' key (loopback)


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
    blobs: BlobService
    dialogs: DialogService
    memberships: MembershipService
    messages: MessageService
    receipts: ReceiptService
    system_messages: SystemMessageService
    reactions: ReactionService
    search: SearchService
    presence: PresenceRegistry
    subscriptions: SubscriptionService
    push: PushService
    push_events: PushEventService
    rooms: RoomService
    rate_limits: RateLimitService
    upload: UploadService
    vcards: VCardService
    bookmarks: BookmarkService
    contacts: ContactService
    archive: ArchiveService
    admin: AdminService
    admin_stats: AdminStatsService
    bans: BanService
    reports: ReportService
    address_book: AddressBookService
    webhooks: WebhookService
    conversation: ConversationService
    feed: FeedService
    blocklist: BlocklistService
    operations: OperatorService
    # Names this store's contents for state kept outside it (Prosody's data directory): set by
    # `start()`. The embedded store is new in every process, so it gets a new id every time; a
    # MongoDB database keeps the id its first process created.
    store_id: str = field(default="")
    # The WebPush VAPID key kept in the store (PEM), when the settings give none: set by `start()`.
    webpush_key: str | None = field(default=None, repr=False)
    metrics: Metrics = field(default_factory=Metrics)  # the process's (models/metrics.py)

    async def start(self) -> None:
        """Indexes, the default application and the store's id (idempotent)."""
        await self.database.ensure_indexes()
        # users stored before address books matched phones get their `phone_key` (once each)
        await UserStore(self.database.db).backfill_phone_keys()
        admin_key = await self.apps.ensure_default(self.settings.app)
        if admin_key is not None:  # shown once, through a file only its owner reads; never logged
            path = self.settings.data_dir / ADMIN_KEY_FILE
            await asyncio.to_thread(write_key_file, path, admin_key)
            logger.info("admin API key of application %s written to %s", self.settings.app.id, path)
        path = self.settings.data_dir / OPERATOR_KEY_FILE
        if await asyncio.to_thread(self.operations.ensure_operator_key, path):
            logger.info("operator key (`chatbridge` over loopback) written to %s", path)
        secrets = SecretStore(self.database.db)
        await self.blobs.share_url_secret(secrets)
        self.webpush_key = await self.webpush_keys(secrets).shared()
        self.store_id = await self.database.store_id()

    def webpush_keys(self, secrets: SecretStore | None = None) -> WebPushKeyService:
        return WebPushKeyService(secrets or SecretStore(self.database.db), self.settings.push.webpush)

    async def maintain(self) -> None:
        """Periodic housekeeping: prune handled outbox events, sweep abandoned upload files."""
        await self.outbox.prune()
        await self.blobs.sweep_abandoned_uploads()
        await self.feed.prune()
        await self.webhooks.purge()


def build_services(settings: Settings, database: Database, clock: Clock | None = None,
                   publisher: EventPublisher | None = None, metrics: Metrics | None = None,
                   feed_writes: bool = True) -> Services:
    """`feed_writes=False` leaves the event feed unwritten: only bench/feed.py's baseline."""
    clock = clock or Clock()
    metrics = metrics or Metrics(settings.metrics.enabled)
    if metrics.enabled:  # every store operation timed (models/storage/timing.py)
        database = database.timed(metrics.store)
    db = database.db
    outbox = database.outbox_store()
    publisher = publisher or outbox
    base_publisher = publisher  # `Services.publisher`: what the feed writer hands events on to
    counters = CounterStore(db)
    apps_store = AppStore(db)
    rate_limits = RateLimitService(settings.rate_limits)
    address_books = AddressBookStore(db)
    users = UserService(UserStore(db), counters, clock, publisher, settings.limits.max_list_limit,
                        rate_limits=rate_limits, address_books=address_books)
    sessions = SessionService(SessionStore(db), apps_store, counters, users, clock, settings.session,
                              RefreshTokenStore(db), DeviceStore(db), publisher, rate_limits)
    blobs = BlobService(BlobStore(db), LocalFileStore(settings.blobs.path), counters, clock,
                        settings.blobs, settings.http.base_url, settings.limits.max_list_limit)
    dialog_store, member_store, message_store = DialogStore(db), MemberStore(db), database.message_store()
    user_store = UserStore(db)
    access = AccessService(dialog_store, member_store, message_store)
    feed_store = database.feed_store()
    feed = FeedService(feed_store, TombstoneStore(db), dialog_store, member_store, access, clock,
                       settings.feed)
    if feed_writes:  # every event goes to the feed first, then to the outbox (FeedWriter)
        publisher = FeedWriter(publisher, feed_store, dialog_store, access, clock, settings.feed)
    conversation = ConversationService(dialog_store, member_store, message_store, users, access,
                                       clock, publisher, settings.dialogs)
    memberships = MembershipService(dialog_store, member_store, message_store, access, clock,
                                    publisher, settings.limits, conversation=conversation)
    private_memo = PrivateAccessMemo()  # one per process, shared by dialogs and messages
    blocklist = BlocklistService(database.blocklist_store(), users, clock, publisher,
                                 settings.limits)
    dialogs = DialogService(dialog_store, member_store, message_store, users, access, clock,
                            publisher, settings.limits, settings.xmpp.muc_domain, memberships,
                            private_memo, blocklist=blocklist,
                            conversation=conversation)
    receipts = ReceiptService(message_store, dialog_store, member_store, access, clock, publisher,
                              settings.limits)
    messages = MessageService(message_store, dialog_store, user_store, access, receipts, clock,
                              publisher, settings.limits, private_dialogs=dialogs,
                              private_access=private_memo, rate_limits=rate_limits,
                              blocklist=blocklist, graves=feed)
    reactions = ReactionService(message_store, access, publisher)
    search = SearchService(message_store, dialog_store, member_store, user_store, dialogs, settings.limits)
    presence, sub_store = PresenceRegistry(), SubscriptionStore(db)
    push = PushService(database.push_job_store(), sub_store, dialog_store, member_store,
                       message_store, user_store, presence, clock, settings.push,
                       metrics=metrics.push, blocklist=blocklist)
    push_events = PushEventService(PushEventStore(db), user_store, sub_store, push, counters, clock,
                                   settings.push)
    admin = AdminService(dialogs, memberships, messages, users, sessions, access, dialog_store,
                         member_store, message_store, settings.limits, blocklist=blocklist)
    webhooks = WebhookService(WebhookStore(db), WebhookDeliveryStore(db), counters, clock,
                              settings.webhooks, metrics=metrics.webhooks)
    add_store_probes(metrics, outbox, push, webhooks)
    app_service = AppService(apps_store, clock, rate_limits)
    return Services(
        metrics=metrics,
        settings=settings, database=database, clock=clock, publisher=base_publisher, outbox=outbox,
        apps=app_service, users=users, sessions=sessions, blobs=blobs,
        dialogs=dialogs, memberships=memberships, messages=messages, receipts=receipts,
        system_messages=SystemMessageService(user_store, access, publisher, settings.limits),
        reactions=reactions, search=search,
        presence=presence, subscriptions=SubscriptionService(sub_store, counters, clock, settings.push),
        push=push, push_events=push_events, rooms=RoomService(access, dialog_store, member_store),
        rate_limits=rate_limits,
        upload=UploadService(blobs, settings.http.base_url), vcards=VCardService(users, blobs),
        bookmarks=BookmarkService(dialogs),
        contacts=ContactService(ContactStore(db), RosterVersionStore(db), users, presence, clock,
                                publisher, settings.limits),
        archive=ArchiveService(database.archive_store(), dialog_store, member_store, access),
        admin=admin,
        admin_stats=AdminStatsService(dialog_store, message_store, settings.limits),
        bans=BanService(dialog_store, member_store, users, access, clock, publisher,
                        settings.limits, conversation=conversation),
        conversation=conversation,
        reports=ReportService(ReportStore(db), counters, access, users, rate_limits, clock,
                              settings.limits.max_list_limit),
        address_book=AddressBookService(address_books, user_store, clock, settings.limits),
        feed=feed,
        webhooks=webhooks,
        blocklist=blocklist,
        operations=OperatorService(app_service, apps_store, users, user_store, admin, access,
                                   message_store, settings.app,
                                   settings.data_dir / ADMIN_KEY_FILE),
    )
