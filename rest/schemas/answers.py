"""The answers of the REST API as pydantic models, for the OpenAPI document (rest/openapi.py).

The views build their JSON with the `*_to_json` functions of the other schema modules; these
models describe what those functions produce, key for key (every key they always write is
required; a `None` they may write is `| None`). They are not used to build answers: the test
tests/rest/test_openapi_answers.py validates real answers against the schemas generated from
them, so the two cannot drift apart unnoticed. Objects are closed (`extra="forbid"`) but for
the message, whose custom keys sit at its top level.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors ------------------------------------------------------------------------------------------
class ErrorAnswer(Closed):
    """`{"errors": {"base": ["Required session does not exist"]}}`: field (or `base`) → messages."""
    errors: dict[str, list[str]]


class EmptyAnswer(Closed):
    """`{}`."""


# -- users and sessions ------------------------------------------------------------------------------
class UserJson(Closed):
    id: int
    full_name: str | None
    email: str | None
    login: str | None
    phone: str | None
    website: str | None
    created_at: str | None
    updated_at: str | None
    last_request_at: str | None
    external_user_id: int | None
    external_id: str | None
    facebook_id: str | None
    twitter_id: str | None
    blob_id: int | None
    avatar: str | None
    custom_data: str | None
    user_tags: str | None = Field(description="comma-separated tags")
    timezone: int | None
    is_guest: Literal[True] | None


class UserAnswer(Closed):
    user: UserJson


class SessionJson(Closed):
    id: int
    application_id: int
    user_id: int = Field(description="0 for an application session")
    created_at: str | None
    updated_at: str | None
    ts: int | None
    nonce: int
    token: str | None = Field(None, description="only in the answer that creates the session")
    token_expiration: str = Field(description="when the session ends if unused (each request "
                                  "extends it)")
    refresh_token: str | None = Field(None, description="user sessions, only in the answer that "
                                      "creates the session: `POST /session/refresh` trades it "
                                      "for a new session, once")
    user: UserJson | None = None


class SessionAnswer(Closed):
    session: SessionJson


class DeviceJson(Closed):
    udid: str | None
    platform: str | None
    user_agent: str | None


class SessionItemJson(Closed):
    """One login of the caller (never a token)."""
    id: int
    device: DeviceJson
    created_at: str
    last_used_at: str
    current: bool = Field(description="the session of this request")


class SessionsPage(Closed):
    """`GET /sessions`, most recently used first."""
    items: list[SessionItemJson]


class SessionsEndedAnswer(Closed):
    """`DELETE /sessions`."""
    ended: int = Field(description="how many sessions were ended")


class UsersPage(Closed):
    """`GET /users/v2`."""
    limit: int
    skip: int
    total_entries: int
    items: list[UserJson]


class LegacyUsersPage(Closed):
    """`GET /users`, `GET /users/by_full_name`."""
    current_page: int
    per_page: int
    total_entries: int
    items: list[UserAnswer]


class OnlineUsers(Closed):
    users: list[UserJson]


class OnlineCount(Closed):
    count: int


class OnlineAnswer(RootModel[OnlineUsers | OnlineCount]):
    """`{"users": [...]}`, or `{"count": n}` with `count=1`."""


class OccupantsPage(Closed):
    skip: int
    limit: int
    items: list[UserJson]


# -- dialogs -----------------------------------------------------------------------------------------
class DialogPermissions(Closed):
    allow_preview: bool


class DialogJson(Closed):
    id: str = Field(alias="_id")
    type: int = Field(description="1 broadcast, 2 group, 3 private, 4 public")
    name: str | None
    description: str | None
    photo: str | None
    user_id: int | None
    created_at: str | None
    updated_at: str | None
    xmpp_room_jid: str | None
    occupants_ids: list[int]
    admins_ids: list[int]
    pinned_messages_ids: list[str]
    last_message: str | None
    last_message_id: str | None
    last_message_user_id: int | None
    last_message_date_sent: int | None
    last_message_status: str | None
    unread_messages_count: int
    extensions: dict[str, Any] | None
    permissions: DialogPermissions | None
    occupants_count: int | None = Field(None, description="public dialogs only")
    occupants_limit: int | None = Field(
        None, description="group and public dialogs that set one: at most this many occupants")
    archived: Literal[0, 1] = Field(0, description="1: in the caller's archive")


class DialogsPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[DialogJson]


class ItemsCount(Closed):
    items_count: int


class DialogsAnswer(RootModel[DialogsPage | ItemsCount]):
    """A page, or `{"items_count": n}` with `count=1`."""


class Ids(Closed):
    ids: list[str]


class DeleteResult(Closed):
    SuccessfullyDeleted: Ids
    NotFound: Ids
    WrongPermissions: Ids


class NotificationsFlag(Closed):
    enabled: Literal[0, 1]


class NotificationsAnswer(Closed):
    notifications: NotificationsFlag


# -- messages ----------------------------------------------------------------------------------------
class ReactionsSummary(Closed):
    own: list[str]
    total: dict[str, int]


class QuotePreview(Closed):
    """The quoted message as it was when the reply or forward was sent."""
    sender_id: int
    message: str = Field(description="its first 100 characters")
    attachment_type: str | None = Field(description="its first attachment's type")


class MessageJson(BaseModel):
    """A message; its custom parameters are more keys at the top level."""
    model_config = ConfigDict(extra="allow")

    id: str = Field(alias="_id")
    chat_dialog_id: str
    message: str
    date_sent: int | None
    sender_id: int | None
    recipient_id: int
    created_at: str | None
    updated_at: str | None
    read_ids: list[int]
    delivered_ids: list[int]
    views_count: int
    attachments: list[dict[str, Any]]
    markable: Literal[1] | None = None
    edited_at: str | None = Field(None, description="when its author last edited it")
    client_id: str | None = Field(None, description="the sender's own id of the message, if given")
    reply_to: str | None = Field(None, description="the message this one replies to")
    reply_to_preview: QuotePreview | None = None
    forwarded_from: str | None = Field(None, description="the message this one forwards")
    forwarded_from_preview: QuotePreview | None = None
    read: Literal[0, 1]
    reactions: ReactionsSummary | None


class TombstoneJson(Closed):
    """A message deleted for everyone, in its place in the history (`include_deleted=1`)."""
    id: str = Field(alias="_id")
    chat_dialog_id: str
    sender_id: int
    date_sent: int | None
    deleted: Literal[True]
    deleted_at: str
    deleted_by: int


class MessagesPage(Closed):
    skip: int
    limit: int
    items: list[MessageJson | TombstoneJson]


class MessagesAnswer(RootModel[MessagesPage | ItemsCount]):
    """A page, or `{"items_count": n}` with `count=1`."""


class UnreadCounts(RootModel[dict[str, int]]):
    """`{"total": n}`, and one count per dialog id asked for."""


class Reactions(RootModel[dict[str, list[int]]]):
    """Reaction → the ids of the users who gave it."""


class SystemMessageAnswer(Closed):
    messageId: str
    recipientId: int
    extensionParams: dict[str, Any]
    chat_dialog_id: str | None = None


class SearchResults(Closed):
    dialogs: list[DialogJson]
    messages: list[MessageJson]
    users: list[UserJson]


class SearchAnswer(Closed):
    results: SearchResults


# -- blobs -------------------------------------------------------------------------------------------
class WriteAccess(Closed):
    id: int
    blob_id: int
    expires: str | None
    object_access_type: Literal["Write"]
    params: str = Field(description="the upload URL (multipart/form-data POST)")


class ReadAccess(Closed):
    id: int
    blob_id: int
    object_access_type: Literal["Read"]
    download_url: str | None = None
    expires: str | None = None


class BlobJson(Closed):
    id: int
    uid: str
    content_type: str
    name: str
    size: int | None
    public: bool
    created_at: str | None
    updated_at: str | None
    blob_status: Literal["complete"] | None
    set_completed_at: str | None
    blob_object_access: WriteAccess | ReadAccess | None = None


class BlobAnswer(Closed):
    blob: BlobJson


class BlobsPage(Closed):
    current_page: int
    per_page: int
    total_entries: int
    items: list[BlobAnswer]


# -- push --------------------------------------------------------------------------------------------
class Named(Closed):
    name: str


class DeviceJson(Closed):
    udid: str
    platform: Named


class SubscriptionJson(Closed):
    id: int
    notification_channel: Named
    device: DeviceJson


class SubscriptionItem(Closed):
    subscription: SubscriptionJson


class Subscriptions(RootModel[list[SubscriptionItem]]):
    """`[{"subscription": {...}}, ...]`."""


class EventJson(Closed):
    id: int
    event_type: str
    message: str | None
    date: None
    period: None
    name: None
    occured_count: int
    created_at: str | None
    updated_at: str | None
    end_date: None
    active: bool
    application_id: int
    user_id: int
    kind: str
    environment: str | None
    tag_query: None
    notification_channel: Named


class EventItem(Closed):
    event: EventJson


class Events(RootModel[list[EventItem]]):
    """`[{"event": {...}}]`."""


# -- address books (rest/schemas/address_book.py) ----------------------------------------------------
class AddressBookUploadAnswer(Closed):
    deleted: int
    created: int
    updated: int
    rejected: dict[str, list[str]] = Field(description="upload index → why it was not taken")


class ContactJson(Closed):
    name: str
    phone: str = Field(description="normalised: digits, with a leading `+` when given")


class AddressBook(RootModel[list[ContactJson]]):
    """The book's contacts (a bare array), in the order they were first uploaded."""


class RegisteredUserJson(UserJson):
    address_book_name: str = Field(description="the name the caller's book gives them")


class CompactRegisteredUser(Closed):
    id: int
    phone: str | None = Field(description="the user's profile phone")
    address_book_name: str


class RegisteredUserItem(Closed):
    user: RegisteredUserJson | CompactRegisteredUser


class RegisteredUsers(Closed):
    """`compact=1`: `{id, phone, address_book_name}` per user; otherwise the whole profile."""
    items: list[RegisteredUserItem]


# -- reports (rest/schemas/reports.py) ---------------------------------------------------------------
class ReportJson(Closed):
    id: int
    type: Literal["message", "user", "dialog"]
    object_id: str = Field(description="the message or dialog id, or the user id")
    reason: str
    comment: str | None
    status: Literal["open", "resolved", "dismissed"]
    created_at: str | None
    updated_at: str | None


class ReportsPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[ReportJson]


# -- service -----------------------------------------------------------------------------------------
class StoreHealth(Closed):
    ok: bool
    kind: str


class HealthAnswer(BaseModel):
    """`status` and the store's; parts the process runs (the XMPP bridge) add their own keys."""
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "unavailable"]
    store: StoreHealth


# -- the admin API (rest/views/admin.py, rest/schemas/admin.py) --------------------------------------

class AdminDialogJson(DialogJson):
    silent_ids: list[int] = Field(description="users who muted the dialog")
    deleted_ids: list[int] = Field(description="users who deleted it for themselves")
    is_e2ee: bool | None
    is_muted: bool | None


class AdminDialogsPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[AdminDialogJson]


class AdminMessageJson(MessageJson):
    deleted_for_ids: list[int] = Field(description="users who deleted it for themselves")


class AdminMessagesPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[AdminMessageJson]


class AdminUsersPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[UserJson]


class Success(Closed):
    success: bool


class Total(Closed):
    total: int


class PerDay(RootModel[dict[str, int]]):
    """Days (`YYYY-MM-DD`, UTC) with their counts, oldest first; days without any are left out."""


class AdminReportJson(ReportJson):
    reporter_id: int
    dialog_id: str | None = Field(description="the reported message's dialog, or the dialog")
    snapshot: dict[str, Any] | None = Field(
        description="a message's sender_id, message, date_sent and attachments when reported; "
                    "a user's login and full_name; a dialog's type, name and owner")
    note: str | None = Field(description="the moderators' (never shown to the reporter)")
    reviewed_at: str | None


class AdminReportsPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[AdminReportJson]


# -- the event feed ----------------------------------------------------------------------------------
class FeedItemJson(Closed):
    """One change (docs/architecture.md, "The event feed"): `type` names it, `data` its details."""
    cursor: str = Field(description="this item's position: a `since` that goes on after it")
    type: str
    dialog_id: str | None
    message_id: str | None = None
    actor_id: int = Field(description="who made the change (0: the server)")
    at: str
    data: dict[str, Any]


class FeedAnswer(Closed):
    items: list[FeedItemJson]
    next: str = Field(description="the cursor to ask with next (`since`)")
    more: bool = Field(description="more items are waiting: ask again at once")


# -- webhooks (rest/schemas/webhooks.py) -------------------------------------------------------------
class WebhookJson(Closed):
    id: int
    url: str
    events: list[str] = Field(description="webhook event types, or `[\"*\"]` (every type)")
    enabled: bool
    description: str | None
    created_at: str | None
    updated_at: str | None
    previous_secret_until: str | None = Field(
        description="after a rotation with a grace period: until when the previous secret "
                    "signs too (null: it does not)")


class WebhookWithSecret(WebhookJson):
    secret: str = Field(description="the signing secret: shown here only (creation, rotation)")


class WebhooksAnswer(Closed):
    items: list[WebhookJson]


class WebhookDeliveryJson(Closed):
    id: str = Field(description="the delivery id (`Chatbridge-Delivery`)")
    webhook_id: int
    event_type: str
    event_id: str = Field(description="the body's `id`")
    state: Literal["pending", "dead"]
    attempts: int
    last_error: str | None
    last_status: int | None = Field(description="the endpoint's last HTTP status")
    created_at: str | None
    next_attempt_at: str | None
    dead_at: str | None
    payload: dict[str, Any] = Field(description="the body, as sent (docs/webhooks.md)")


class WebhookDeliveriesPage(Closed):
    total_entries: int
    skip: int
    limit: int
    items: list[WebhookDeliveryJson]
