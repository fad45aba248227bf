"""Indexes created at start-up (idempotent). The embedded store creates only those mongomock
models correctly (models/storage/embedded/indexes.py)."""
from __future__ import annotations

import logging

from pymongo import ASCENDING, DESCENDING, IndexModel

logger = logging.getLogger(__name__)

# Indexes earlier versions created that nothing uses any more: dropped at start-up. `messages.search`
# was a text index, but search matches case-insensitive substrings (`$regex`), which a text index
# cannot serve; it only cost every insert a tokenisation (and MongoDB-compatible servers without
# text indexes refused to start).
OBSOLETE: dict[str, list[str]] = {"messages": ["search"]}

INDEXES: dict[str, list[IndexModel]] = {
    # admin API requests find their application by the key's hash
    "apps": [IndexModel([("admin_key_hash", ASCENDING)], unique=True,
                        partialFilterExpression={"admin_key_hash": {"$type": "string"}},
                        name="admin_key")],
    "users": [
        IndexModel([("app_id", ASCENDING), ("login", ASCENDING)], unique=True,
                   partialFilterExpression={"login": {"$type": "string"}}, name="app_login"),
        IndexModel([("app_id", ASCENDING), ("email", ASCENDING)], unique=True,
                   partialFilterExpression={"email": {"$type": "string"}}, name="app_email"),
        IndexModel([("app_id", ASCENDING), ("external_user_id", ASCENDING)], name="app_external"),
        # address books find registered users by their phone's digits
        IndexModel([("app_id", ASCENDING), ("phone_key", ASCENDING)],
                   partialFilterExpression={"phone_key": {"$type": "string"}}, name="app_phone"),
    ],
    "sessions": [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="app_user"),
    ],
    # one document per login (refresh-token family): found by the current or a rotated token
    "refresh_tokens": [
        IndexModel([("token_hash", ASCENDING)], unique=True,
                   partialFilterExpression={"token_hash": {"$type": "string"}}, name="token"),
        IndexModel([("previous_hashes", ASCENDING)], name="rotated"),
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="app_user"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
    ],
    # the devices a user has logged in from (new-login notices)
    "session_devices": [IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="app_user")],
    "dialogs": [
        IndexModel([("app_id", ASCENDING), ("occupants_ids", ASCENDING),
                    ("last_message_date_sent", DESCENDING)], name="by_occupant"),
        IndexModel([("app_id", ASCENDING), ("private_key", ASCENDING)], unique=True,
                   partialFilterExpression={"private_key": {"$type": "string"}}, name="private_pair"),
        # every user's dialog list joins the app's broadcast dialogs (type 1)
        IndexModel([("app_id", ASCENDING), ("type", ASCENDING)], name="by_type"),
        # the admin API's statistics (dialogs created per day)
        IndexModel([("app_id", ASCENDING), ("created_at", ASCENDING)], name="app_created"),
    ],
    # who blocked a user, among a room's audience or a pair (models/storage/blocklist.py)
    "blocklists": [IndexModel([("app_id", ASCENDING), ("blocked_ids", ASCENDING),
                               ("user_id", ASCENDING)], name="by_blocked")],
    "dialog_members": [
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING), ("dialog_id", ASCENDING)],
                   unique=True, name="member"),
        IndexModel([("dialog_id", ASCENDING)], name="by_dialog"),
        IndexModel([("dialog_id", ASCENDING), ("left", ASCENDING)], name="left",
                   partialFilterExpression={"left": True}),
    ],
    "messages": [
        IndexModel([("chat_dialog_id", ASCENDING), ("_id", ASCENDING)], name="dialog_order"),
        IndexModel([("chat_dialog_id", ASCENDING), ("seq", ASCENDING)], name="dialog_seq"),
        # the message archive (XEP-0313): one dialog's pages, or several merged (archive.py)
        IndexModel([("chat_dialog_id", ASCENDING), ("archive_order", ASCENDING)],
                   name="dialog_archive"),
        # the admin API's statistics (messages sent per day)
        IndexModel([("app_id", ASCENDING), ("date_sent", ASCENDING)], name="app_date_sent"),
        # sends are idempotent on the client's own id per sender and dialog (issue 15 §5): two
        # concurrent sends with one client_id store one message, also from two processes
        IndexModel([("app_id", ASCENDING), ("sender_id", ASCENDING), ("chat_dialog_id", ASCENDING),
                    ("client_id", ASCENDING)], unique=True,
                   partialFilterExpression={"client_id": {"$type": "string"}}, name="client_id"),
    ],
    "blobs": [
        # uploads and signed downloads look a uid up before they know the application
        IndexModel([("uid", ASCENDING)], unique=True, name="by_uid"),
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="owner"),
    ],
    # a user's contacts (their list, requests), oldest first; and whose lists name a user
    "contacts": [
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING), ("created_at", ASCENDING)],
                   name="owner"),
        IndexModel([("app_id", ASCENDING), ("contact_id", ASCENDING)], name="by_contact"),
    ],
    # the event feed: a user's page is one range per key (personal, and each big dialog's)
    "feed": [IndexModel([("key", ASCENDING), ("_id", ASCENDING)], name="key_cursor"),
             IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")],
    "feed_shares": [IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="reader"),
                    IndexModel([("dialog_id", ASCENDING)], name="by_dialog")],
    # messages deleted for everyone, in their dialog's order; gone with the feed's retention
    "message_tombstones": [
        IndexModel([("chat_dialog_id", ASCENDING), ("seq", ASCENDING)], name="dialog_seq"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")],
    "outbox": [IndexModel([("done_by", ASCENDING), ("_id", ASCENDING)], name="pending")],
    "push_subscriptions": [
        IndexModel([("app_id", ASCENDING), ("channel", ASCENDING), ("udid", ASCENDING)],
                   unique=True, name="device"),
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="owner"),
        # broadcast alerts page through every subscription of the app
        IndexModel([("app_id", ASCENDING), ("_id", ASCENDING)], name="app_pages"),
        IndexModel([("app_id", ASCENDING), ("channel", ASCENDING), ("token", ASCENDING)],
                   partialFilterExpression={"token": {"$type": "string"}}, name="token"),
        IndexModel([("app_id", ASCENDING), ("channel", ASCENDING), ("web.endpoint", ASCENDING)],
                   partialFilterExpression={"web.endpoint": {"$type": "string"}}, name="endpoint"),
    ],
    # one document per contact; a book is (app, user, udid), read in upload order
    "address_book_contacts": [
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING), ("udid", ASCENDING),
                    ("phone_key", ASCENDING)], unique=True, name="contact"),
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING), ("udid", ASCENDING),
                    ("_id", ASCENDING)], name="book_order"),
    ],
    "reports": [
        # a reporter's own list, newest first
        IndexModel([("app_id", ASCENDING), ("reporter_id", ASCENDING), ("_id", DESCENDING)],
                   name="reporter"),
        # one open report per reporter and object (SCHEMA.md; closing removes `open_key`)
        IndexModel([("app_id", ASCENDING), ("reporter_id", ASCENDING), ("open_key", ASCENDING)],
                   unique=True, partialFilterExpression={"open_key": {"$type": "string"}},
                   name="open_report"),
        # the moderators' queue: by status, newest first
        IndexModel([("app_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)],
                   name="moderation"),
    ],
    "push_jobs": [
        # claims: pending jobs whose due_at has come, oldest first
        IndexModel([("state", ASCENDING), ("due_at", ASCENDING)], name="ready"),
        IndexModel([("app_id", ASCENDING), ("user_id", ASCENDING)], name="owner"),
        IndexModel([("purge_at", ASCENDING)], expireAfterSeconds=0, name="purge"),
    ],
    "webhooks": [IndexModel([("app_id", ASCENDING), ("_id", ASCENDING)], name="app")],
    "webhook_deliveries": [
        # claims: pending deliveries whose due_at has come, oldest first
        IndexModel([("state", ASCENDING), ("due_at", ASCENDING)], name="ready"),
        # an endpoint's deliveries (the dead letters), newest first
        IndexModel([("app_id", ASCENDING), ("webhook_id", ASCENDING), ("state", ASCENDING),
                    ("created_at", DESCENDING)], name="endpoint"),
        IndexModel([("purge_at", ASCENDING)], expireAfterSeconds=0, name="purge"),
    ],
}


async def ensure_indexes(db, models_by_collection: dict[str, list[IndexModel]] | None = None) -> None:
    """Creates `models_by_collection` (default: `INDEXES`; the embedded store passes the ones it
    models, models/storage/embedded/indexes.py) and drops the obsolete ones."""
    wanted = INDEXES if models_by_collection is None else models_by_collection
    for collection, models in wanted.items():
        if models:
            await db[collection].create_indexes(models)
    for collection, names in OBSOLETE.items():
        existing = await db[collection].index_information()
        for name in names:
            if name in existing:
                await db[collection].drop_index(name)
                logger.info("dropped the obsolete index %s.%s", collection, name)
    logger.info("indexes ensured on %d collections", len(wanted))
