"""Push delivery: the job queue the workers drain, and the automatic chat alerts.

Chat alerts come from `message_created` events of the outbox: each recipient who is offline (see
`PresenceRegistry`), is not the sender, has not muted the dialog, gets one job per device
subscription, unless the message is `silent`. A broadcast dialog (type 1) reaches every user of
the app: its event names only the occupants, so the alert pages through the app's subscriptions
(`BROADCAST_PAGE` at a time, each page queued before the next is read; job ids make a retried
event idempotent), skipping users who muted the dialog or deleted it for themselves. Jobs carry a provider-neutral `notification`:

    title, body, badge, sound, thread_id, category, collapse_id: str | int | None
    content_available, mutable_content: bool
    push_type: "alert" | "background" | "voip"
    data: {str: any}            custom keys handed to the app
    loc: {...}                  iOS localisation keys (ios_loc_data)
    android_notification: {...} FCM AndroidNotification fields
    raw: {...}                  a platform-native payload given to POST /events as `payload=`
    expiration: int             Unix seconds after which the notification is worthless

Queue operations (claim / finish / retry / bury / reject) are the workers' only way into the
`push_jobs` collection; every write after a claim is conditional on still holding the lease.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from config.settings import PushSettings
from models.clock import Clock
from models.dialogs import Dialog
from models.metrics import PushMetrics
from models.push import ALERT_CHANNELS, PushJob
from models.services.access import BROADCAST, PRIVATE, PUBLIC
from models.services.blocklist import BlocklistService
from models.services.presence import PresenceRegistry
from models.storage.dialogs import DialogStore
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.push_jobs import PushJobStore
from models.storage.subscriptions import SubscriptionStore
from models.storage.users import UserStore

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
E2E_KEYS = ("e2ee", "is_e2ee")
BROADCAST_PAGE = 500  # subscriptions read at once for a broadcast alert


@dataclass
class Claim:
    token: str
    jobs: list[PushJob] = field(default_factory=list)


def job_doc(sub: Doc, notification: Doc, *, key: str, kind: str, now: datetime,
            expires_at: datetime) -> Doc:
    """A new queue entry for one device subscription; `key` (its `_id`) makes it idempotent."""
    return {
        "_id": key, "kind": kind, "app_id": sub["app_id"], "user_id": sub["user_id"],
        "subscription_id": sub["_id"], "channel": sub["channel"],
        "environment": sub["environment"], "token": sub.get("token"), "web": sub.get("web"),
        "bundle_identifier": sub.get("bundle_identifier"), "notification": notification,
        "created_at": now, "expires_at": expires_at, "due_at": now, "state": "pending",
        "lease": None, "attempts": 0, "last_error": None,
    }


def truncate(text: str, max_chars: int) -> str:
    """Cuts `text` to at most `max_chars` characters, on a word boundary when one is near."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    if max_chars < 2:
        return text[:max(0, max_chars)]
    cut = text[:max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def is_e2ee(dialog: Dialog) -> bool:
    """The app flagged the dialog end-to-end encrypted (`extensions.e2ee` / `is_e2ee`)."""
    extensions = dialog.extensions or {}
    return any(_truthy(extensions.get(k)) for k in E2E_KEYS)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _display_name(user: Doc | None, user_id: int) -> str:
    if user:
        for key in ("full_name", "login", "email"):
            if user.get(key):
                return str(user[key])
    return f"User {user_id}"


class KnownSubscriptions:
    """Subscriptions read ahead for some users (`PushService.prefetch`), by application."""

    def __init__(self) -> None:
        self._users: dict[int, set[int]] = {}
        self._subs: dict[tuple[int, int], list[Doc]] = {}

    def add(self, app_id: int, user_ids: list[int], subs: list[Doc]) -> None:
        self._users.setdefault(app_id, set()).update(user_ids)
        for sub in subs:
            self._subs.setdefault((app_id, int(sub["user_id"])), []).append(sub)

    def covers(self, app_id: int, user_ids: list[int]) -> bool:
        users = self._users.get(app_id)
        return users is not None and users.issuperset(user_ids)

    def of(self, app_id: int, user_ids: list[int]) -> list[Doc]:
        """Their subscriptions, in `_id` order (as the store answers)."""
        subs = [sub for uid in user_ids for sub in self._subs.get((app_id, uid), ())]
        return sorted(subs, key=lambda sub: sub["_id"]) if len(subs) > 1 else subs


class PushService:
    def __init__(self, jobs: PushJobStore, subscriptions: SubscriptionStore, dialogs: DialogStore,
                 members: MemberStore, messages: MessageStore, users: UserStore,
                 presence: PresenceRegistry, clock: Clock, settings: PushSettings,
                 channels: set[str] | None = None, metrics: PushMetrics | None = None,
                 blocklist: BlocklistService | None = None) -> None:
        self._jobs = jobs
        self._blocklist = blocklist  # who blocked the sender gets no push for their messages
        self._subs = subscriptions
        self._dialogs = dialogs
        self._members = members
        self._messages = messages
        self._users = users
        self._presence = presence
        self._clock = clock
        self._settings = settings
        self._channels = settings.configured_channels() if channels is None else set(channels)
        self._waiters: list[asyncio.Event] = []
        self._metrics = metrics or PushMetrics()

    @property
    def metrics(self) -> PushMetrics:
        """The push job counters (models/metrics.py), shared with the workers (push/worker.py)."""
        return self._metrics

    @property
    def channels(self) -> set[str]:
        """Channels with provider credentials: jobs are queued only for these."""
        return set(self._channels)

    @property
    def settings(self) -> PushSettings:
        return self._settings

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- queueing ----------------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Event:
        """An asyncio.Event set whenever jobs are queued in this process (wakes idle workers)."""
        waiter = asyncio.Event()
        self._waiters.append(waiter)
        return waiter

    async def enqueue(self, docs: list[Doc]) -> int:
        inserted = await self._jobs.insert_new(docs)
        if inserted:
            for waiter in self._waiters:
                waiter.set()
            by_channel: dict[str, int] = {}
            for doc in inserted:
                by_channel[doc["channel"]] = by_channel.get(doc["channel"], 0) + 1
            for channel, count in by_channel.items():
                self._metrics.queued(channel, count)
        return len(inserted)

    def expires_at(self, now: datetime, expiration: Any = None) -> datetime:
        limit = now + timedelta(seconds=self._settings.max_age_seconds)
        if isinstance(expiration, int) and not isinstance(expiration, bool) and expiration > 0:
            return min(limit, datetime.fromtimestamp(expiration, timezone.utc))
        return limit

    # -- the workers' side -------------------------------------------------------------------------
    async def claim(self, limit: int) -> Claim:
        token = secrets.token_hex(12)
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self._settings.lease_seconds)
        docs = await self._jobs.claim(token, now, lease_until, max(1, limit))
        return Claim(token, [PushJob.model_validate(d) for d in docs])

    async def finish(self, claim: Claim, job_ids: list[str] | None = None) -> int:
        """Deletes the claim's jobs (or these of them) that are still leased to it."""
        ids = [job.id for job in claim.jobs] if job_ids is None else job_ids
        return await self._jobs.finish(claim.token, ids)

    async def release(self, claim: Claim) -> int:
        """Hands the claim's jobs still leased to it back to the queue at once."""
        return await self._jobs.release(claim.token, [job.id for job in claim.jobs],
                                        self._clock.now())

    def is_expired(self, job: PushJob) -> bool:
        return self._clock.now() >= job.expires_at

    async def retry(self, job: PushJob, token: str, delay: float, error: str) -> bool:
        """Reschedules the job `delay` seconds from now, or buries it when that would be past
        its expiry. Returns True when it was rescheduled."""
        now = self._clock.now()
        due = now + timedelta(seconds=delay)
        if due >= job.expires_at:
            await self.bury(job, token, f"gave up after {job.attempts} attempts: {error}")
            return False
        await self._jobs.reschedule(job.id, token, due, error)
        self._metrics.retried(job.channel)
        return True

    async def bury(self, job: PushJob, token: str, error: str) -> None:
        now = self._clock.now()
        purge = now + timedelta(days=self._settings.dead_retention_days)
        await self._jobs.bury(job.id, token, now, purge, error[:500])
        self._metrics.dead(job.channel)

    async def reject_target(self, job: PushJob) -> bool:
        """The provider says this token is gone: delete exactly that subscription, if it still
        holds the token (the job itself is finished with its batch)."""
        return await self._subs.delete_if_target(
            job.app_id, job.subscription_id, job.token, job.web.endpoint if job.web else None)

    async def counts(self) -> dict[str, int]:
        return {"pending": await self._jobs.count({"state": "pending"}),
                "dead": await self._jobs.count({"state": "dead"})}

    # -- outbox events -----------------------------------------------------------------------------
    async def prefetch(self, events: list[Doc]) -> KnownSubscriptions:
        """The subscriptions of the offline recipients of these `message_created` events, read
        in one query per application, for `handle_event` to use instead of a query per event
        (most messages reach nobody with a subscription: their fan-out then reads nothing)."""
        channels = [c for c in ALERT_CHANNELS if c in self._channels]
        wanted: dict[int, set[int]] = {}
        for event in events:
            payload = event.get("payload") or {}
            if event.get("kind") != "message_created" or not channels \
                    or payload.get("dialog_type") in (BROADCAST, PUBLIC):
                continue
            app_id, sender_id = int(event["app_id"]), int(event.get("sender_id") or 0)
            users = wanted.setdefault(app_id, set())
            users.update(int(u) for u in event.get("recipient_ids") or [] if int(u) != sender_id)
        known = KnownSubscriptions()
        for app_id, users in wanted.items():
            offline = self._presence.offline_among(app_id, sorted(users))
            if offline:
                known.add(app_id, offline, await self._subs.for_users(app_id, offline, channels))
        return known

    async def handle_event(self, event: Doc, known: KnownSubscriptions | None = None) -> int:
        """Turns one outbox event into push jobs; returns how many were queued. `known`: the
        subscriptions `prefetch` read for a batch of events this one belongs to."""
        kind = event.get("kind")
        if kind == "message_created":
            return await self._chat_alert(event, known)
        if kind == "user_deleted" and event.get("sender_id"):
            await self._subs.delete_for_user(int(event["app_id"]), int(event["sender_id"]))
            await self._jobs.delete_for_user(int(event["app_id"]), int(event["sender_id"]))
        return 0

    async def _chat_alert(self, event: Doc, known: KnownSubscriptions | None) -> int:
        payload = event.get("payload") or {}
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        custom = payload.get("custom") if isinstance(payload.get("custom"), dict) else {}
        if _truthy(payload.get("silent")) or _truthy(custom.get("silent")) \
                or _truthy(message.get("silent")):
            return 0
        app_id, dialog_id = int(event["app_id"]), event.get("dialog_id")
        sender_id = int(event.get("sender_id") or 0)
        message_id = str(message.get("_id") or payload.get("message_id") or "")
        channels = [c for c in ALERT_CHANNELS if c in self._channels]
        if not dialog_id or not message_id or not channels:
            return 0
        # The event names the dialog's type and the message's audience (models/services/messages.py),
        # so the usual case (no offline recipient with a subscription) reads nothing but the
        # subscriptions; the dialog is read when there is an alert to write (or the event is
        # an older one without them).
        dialog: Dialog | None = None
        dialog_type = payload.get("dialog_type")
        if not isinstance(dialog_type, int) or "recipient_ids" not in event:
            dialog = await self._dialogs.get(app_id, dialog_id)
            if dialog is None:
                return 0
            dialog_type = dialog.type
        if dialog_type == PUBLIC and not self._settings.public_dialog_alerts:
            return 0
        if dialog_type == BROADCAST:
            dialog = dialog or await self._dialogs.get(app_id, dialog_id)
            if dialog is None:
                return 0
            return await self._broadcast_alert(dialog, message, message_id, sender_id, channels)
        audience = event.get("recipient_ids") if dialog is None else \
            (event.get("recipient_ids") or dialog.occupants_ids)
        recipients = [u for u in dict.fromkeys(int(u) for u in audience or []) if u != sender_id]
        recipients = self._presence.offline_among(app_id, recipients)
        if not recipients:
            return 0
        if known is not None and known.covers(app_id, recipients):
            subs = known.of(app_id, recipients)
        else:
            subs = await self._subs.for_users(app_id, recipients, channels)
        if subs and self._blocklist is not None:  # read only when someone would get a push
            blockers = await self._blocklist.blockers(app_id, sender_id,
                                                      {s["user_id"] for s in subs})
            subs = [s for s in subs if s["user_id"] not in blockers] if blockers else subs
        if not subs:
            return 0
        dialog = dialog or await self._dialogs.get(app_id, dialog_id)
        if dialog is None:
            return 0
        members = {m["user_id"]: m for m in await self._members.for_dialog(dialog_id)}
        muted = {uid for uid, m in members.items() if m.get("notifications") is False}
        subs = [s for s in subs if s["user_id"] not in muted]
        if not subs:
            return 0
        alert = await self._alert_content(dialog, message, message_id, sender_id)
        queued = await self._queue_alerts(app_id, subs, alert)
        logger.debug("message %s: %d push jobs for %d offline recipients", message_id, queued,
                     len({s["user_id"] for s in subs}))
        return queued

    async def _broadcast_alert(self, dialog: Dialog, message: Doc, message_id: str, sender_id: int,
                               channels: list[str]) -> int:
        """Every offline, subscribed user of the app but the sender, those who muted the dialog
        and those who deleted it for themselves; one page of subscriptions at a time."""
        app_id, dialog_id = int(dialog.app_id), dialog.id
        alert: Doc | None = None
        queued, after = 0, None
        while True:
            page = await self._subs.page_for_app(app_id, channels, after, BROADCAST_PAGE)
            if not page:
                break
            after = page[-1]["_id"]
            users = {s["user_id"] for s in page if s["user_id"] != sender_id}
            offline = set(self._presence.offline_among(app_id, sorted(users)))
            members = await self._members.for_dialog(dialog_id, user_ids=sorted(offline)) \
                if offline else []
            quiet = {m["user_id"] for m in members
                     if m.get("notifications") is False or m.get("left") or m.get("hidden")}
            quiet |= set(dialog.banned_ids)  # banned users read nothing of it
            if offline and self._blocklist is not None:
                quiet |= await self._blocklist.blockers(app_id, sender_id, offline)
            subs = [s for s in page if s["user_id"] in offline and s["user_id"] not in quiet]
            if subs:
                alert = alert or await self._alert_content(dialog, message, message_id, sender_id)
                queued += await self._queue_alerts(app_id, subs, alert)
            if len(page) < BROADCAST_PAGE:
                break
        logger.debug("broadcast message %s: %d push jobs", message_id, queued)
        return queued

    async def _alert_content(self, dialog: Dialog, message: Doc, message_id: str,
                             sender_id: int) -> Doc:
        """What every recipient's notification of this message shares (all but the badge).
        `message` is the event's wire Message (a dict, as the outbox keeps it)."""
        sender = await self._users.get(int(dialog.app_id), sender_id) if sender_id else None
        dialog_type, dialog_id = int(dialog.type), dialog.id
        sender_name = _display_name(sender, sender_id)
        title = sender_name if dialog_type == PRIVATE else (dialog.name or sender_name)
        body = None
        if not is_e2ee(dialog):
            text = str(message.get("message") or "")
            if not text.strip() and message.get("attachments"):
                text = "Attachment"
            if dialog_type != PRIVATE and dialog.name:
                text = f"{sender_name}: {text}" if text else text
            body = truncate(text, self._settings.body_max_chars) if text.strip() else None
        return {"title": truncate(title, 100), "body": body, "dialog_id": dialog_id,
                "message_id": message_id, "sender_id": sender_id, "dialog_type": dialog_type}

    async def _queue_alerts(self, app_id: int, subs: list[Doc], alert: Doc) -> int:
        now = self._clock.now()
        expires = self.expires_at(now)
        badges: dict[int, int] = {}
        docs = []
        for sub in subs:
            uid = sub["user_id"]
            if uid not in badges:
                badges[uid] = await self.unread_total(app_id, uid)
            notification = {
                "title": alert["title"], "body": alert["body"], "badge": badges[uid],
                "sound": "default", "thread_id": alert["dialog_id"], "push_type": "alert",
                "mutable_content": alert["body"] is None,
                "data": {"dialog_id": alert["dialog_id"], "message_id": alert["message_id"],
                         "sender_id": alert["sender_id"], "dialog_type": alert["dialog_type"]},
            }
            docs.append(job_doc(sub, notification, key=f"m{alert['message_id']}:{sub['_id']}",
                                kind="chat", now=now, expires_at=expires))
        return await self.enqueue(docs)

    async def unread_total(self, app_id: int, user_id: int) -> int:
        """The user's unread messages over their visible dialogs, the app's broadcast dialogs
        included (the badge). Dialogs whose sequence has not moved past the member's read
        position cost no count query."""
        members = {m["dialog_id"]: m for m in await self._members.for_user(
            app_id, user_id, include_hidden=True)}
        for dialog_id in await self._dialogs.broadcast_ids(app_id):
            members.setdefault(dialog_id, {"dialog_id": dialog_id})
        members = {d: m for d, m in members.items() if not m.get("hidden")}
        if not members:
            return 0
        dialogs = {d.id: d for d in await self._dialogs.get_many(app_id, list(members))}
        total = 0
        for dialog_id, member in members.items():
            dialog = dialogs.get(dialog_id)
            if dialog is None:
                continue
            position = max(int(member.get("last_read_seq") or 0), int(member.get("cleared_seq") or 0))
            if dialog.seq <= position:
                continue
            total += await self._messages.count_unread(dialog_id, user_id, position)
        return total
