"""What the REST requests carry, as pydantic models, for the OpenAPI document (rest/openapi.py).

The requests are read by the lax models and functions of the other schema modules (they accept
every encoding the SDK uses: numbers as strings, lists as comma lists, flags as `1`/`true`); the
models here only describe those inputs, for the routes whose reader is a function or a model
without declared fields. Bodies may come as JSON or as a form; query models become `in: query`
parameters (a field's alias is the parameter's name, `type[in]` for instance).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from rest.schemas.blobs import BlobBody
from rest.schemas.sessions import CredentialsBody
from rest.schemas.users import UserBody

Number = int | str
Flag = Literal[0, 1, "0", "1", "true", "false"] | bool
Ids = list[int | str] | str | int


class Lax(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def example(data: dict[str, Any]) -> ConfigDict:
    """A `Lax` model's config with an example (what Swagger UI's "Try it out" starts from)."""
    return ConfigDict(extra="allow", populate_by_name=True, json_schema_extra={"examples": [data]})


# -- sessions and users ------------------------------------------------------------------------------
class GuestUser(BaseModel):
    guest: Flag
    full_name: str | None = None


class DeviceBody(Lax):
    udid: str | None = None
    device_id: str | None = None
    platform: str | None = None


class CreateSessionRequest(Lax):
    """The application's credentials and, for a user session, who logs in (or a guest). The
    SDK's `timestamp`, `nonce` and `signature` are accepted and not checked."""
    model_config = example({"application_id": 1,
                           "auth_key": "chatbridge-dev-auth-key",
                           "user": {"login": "alice", "password": "password123"}})
    application_id: Number
    auth_key: str
    user: CredentialsBody | GuestUser | None = None
    provider: str | None = Field(None, description="social or phone login: refused")
    udid: str | None = Field(None, description="the device's id (or `device_id`, or "
                             "`device: {udid, platform}`): listed by `GET /sessions`; a device "
                             "the user has not used before notifies their other devices")
    device_id: str | None = None
    platform: str | None = Field(None, description="e.g. ios, android, web")
    device: DeviceBody | None = None


class RefreshSessionRequest(Lax):
    """The refresh token of a user session (`POST /session` or an earlier refresh)."""
    model_config = example({"refresh_token": "q3VxV0lqcC1uQ3NpM0xnb0d5c1BkUGdQ"})
    refresh_token: str


class LoginRequest(Lax):
    """The credentials at the top level or under `user`; the device as in `POST /session`."""
    model_config = example({"login": "alice", "password": "password123"})
    login: str | None = None
    email: str | None = None
    password: str | None = None
    user: CredentialsBody | None = None
    udid: str | None = None
    device_id: str | None = None
    platform: str | None = None
    device: DeviceBody | None = None


class UserRequest(Lax):
    """`POST /users` (sign-up) and `PUT /users/{id}` (the fields under `user`)."""
    model_config = example({"user": {"login": "alice",
                                    "password": "password123",
                                    "full_name": "Alice",
                                    "tag_list": "team,beta"}})
    user: UserBody


class PasswordResetRequest(Lax):
    email: str


class UserListQuery(Lax):
    """`field[op]=value` filters on id, login, email, full_name, phone, external ids, tags and
    dates; `tags` (any of); `sort_asc` / `sort_desc`; `limit` + `skip` or `page` + `per_page`."""
    limit: Number | None = None
    skip: Number | None = None
    page: Number | None = None
    per_page: Number | None = None
    sort_asc: str | None = None
    sort_desc: str | None = None
    id_in: str | None = Field(None, alias="id[in]", description="comma-separated user ids")
    login: str | None = None
    full_name_ctn: str | None = Field(None, alias="full_name[ctn]")
    tags: str | None = None


class LegacyUserListQuery(Lax):
    filter: list[str] | None = Field(None, alias="filter[]",
                                     description="`<type> <field> <operator> <value>`, e.g. "
                                                 "`number id in 1,2`")
    order: str | None = Field(None, description="`asc string id`")
    page: Number | None = None
    per_page: Number | None = None
    tags: str | None = None


class UsersByTagsQuery(Lax):
    tags: list[str] = Field(alias="tags[]", description="a tag; repeated, or one comma list "
                                                        "(`tags=a,b`)")
    page: Number | None = None
    per_page: Number | None = None


def lookup_query(field: str) -> type[BaseModel]:
    """The query of `GET /users/by_<field>?<field>=...`."""
    return create_model(f"UserLookupBy_{field}", __base__=Lax, **{field: (str, ...)})


class OnlineQuery(Lax):
    count: Flag | None = Field(None, description="1: answer `{count}` only")
    limit: Number | None = None
    skip: Number | None = None


# -- dialogs -----------------------------------------------------------------------------------------
class Permissions(BaseModel):
    allow_preview: Flag | None = None


class CreateDialogRequest(Lax):
    model_config = example({"type": 2, "name": "Team", "occupants_ids": [2, 3]})
    type: Literal[1, 2, 3, 4, "1", "2", "3", "4"] = Field(
        description="1 broadcast, 2 group, 3 private, 4 public")
    name: str | None = None
    occupants_ids: Ids | None = Field(None, description="user ids: a list or a comma list")
    admins_ids: Ids | None = None
    description: str | None = None
    photo: str | None = None
    extensions: dict[str, Any] | None = None
    permissions: Permissions | None = None
    occupants_limit: Number | None = Field(
        None, description="group and public dialogs: most occupants (at most the global maximum)")


class IdLists(BaseModel):
    occupants_ids: Ids | None = None
    admins_ids: Ids | None = None
    pinned_messages_ids: list[str] | str | None = None


class UpdateDialogRequest(Lax):
    name: str | None = None
    description: str | None = None
    photo: str | None = None
    extensions: dict[str, Any] | None = None
    permissions: Permissions | None = None
    occupants_limit: Number | None = Field(
        None, description="group and public dialogs (admins): most occupants; null: the global "
                          "maximum")
    push_all: IdLists | None = None
    pull_all: IdLists | None = None


class AdminIds(BaseModel):
    admins_ids: Ids | None = None


class UpdateAdminsRequest(Lax):
    push_all: AdminIds | None = None
    pull_all: AdminIds | None = None


class NotificationsRequest(Lax):
    enabled: Flag


class ArchiveRequest(Lax):
    """`PUT /chat/Dialog/{id}/archive`: into (1) or out of (0) the caller's archive."""
    model_config = example({"archived": 1})
    archived: Flag


class HiddenRequest(Lax):
    """`PUT /chat/Dialog/{id}/hidden`: out of the caller's list until the next message (1), or
    back in it (0); the caller stays a member."""
    model_config = example({"hidden": 1})
    hidden: Flag


class ForceRequest(Lax):
    force: Flag | None = Field(None, description="1: delete for everyone (owners and admins)")


class BanRequest(Lax):
    """`POST` / `DELETE /chat/Dialog/{id}/block`: the user banned or unbanned."""
    model_config = example({"user_id": 543})
    user_id: Number


class DialogListQuery(Lax):
    """Filters `field[op]=value` on _id, type, name, user_id, occupants_ids, dates and
    `extensions[<key>]`; `sort_asc` / `sort_desc`; `limit`, `skip`; `count=1`."""
    limit: Number | None = None
    skip: Number | None = None
    count: Flag | None = None
    sort_asc: str | None = None
    sort_desc: str | None = None
    type: Number | None = None
    type_in: str | None = Field(None, alias="type[in]", description="comma-separated types")
    name_ctn: str | None = Field(None, alias="name[ctn]")
    archived: Flag | None = Field(None, description="1: the caller's archived dialogs only; 0: "
                                                    "the others only; absent: all")


class PageQuery(Lax):
    limit: Number | None = None
    skip: Number | None = None


# -- messages ----------------------------------------------------------------------------------------
class CreateMessageRequest(Lax):
    """A message to a dialog (`chat_dialog_id`) or to a user (`recipient_id`: their private
    dialog); any other key is a custom parameter, stored and answered at the top level."""
    model_config = example({"chat_dialog_id": "5f0c5b3e8d1e4a0012345678", "message": "Hello",
                            "send_to_chat": 1})
    chat_dialog_id: str | None = None
    recipient_id: Number | None = None
    message: str | None = None
    attachments: list[dict[str, Any]] | None = None
    date_sent: Number | None = None
    send_to_chat: Flag | None = None
    save_to_history: Flag | None = None
    markable: Flag | None = None
    silent: Flag | None = None
    id: str | None = Field(None, alias="_id", description="the client's 24-hex id (idempotent)")
    client_id: str | None = Field(None, max_length=64, description=(
        "the client's own id of the message, any string up to 64 characters (a UUID, a local "
        "id): a repeated send with the same `client_id` by the same sender to the same dialog "
        "answers the stored message; returned on the message"))
    reply_to: str | None = Field(None, description="a reply: the id of a message of the same "
                                                    "dialog (422 otherwise)")
    forwarded_from: str | None = Field(None, description="a forward: the id of a message the sender "
                                                         "may read (404 otherwise)")


class UpdateMessagesRequest(Lax):
    message: str | None = Field(None, description="the new text (the sender's own message)")
    read: Flag | None = None
    delivered: Flag | None = None
    chat_dialog_id: str | None = None


class SystemMessageRequest(Lax):
    """To `recipientId` or to the occupants of `chat_dialog_id`; every other key is sent along."""
    recipientId: Number | None = None
    chat_dialog_id: str | None = None


class MessageListQuery(Lax):
    """Filters `field[op]=value` on _id, message, date_sent, sender_id, recipient_id, dates,
    `attachments.type` and custom keys; `sort_asc` / `sort_desc`; `limit`, `skip`; `count=1`."""
    chat_dialog_id: str
    limit: Number | None = None
    skip: Number | None = None
    count: Flag | None = None
    sort_asc: str | None = None
    sort_desc: str | None = None
    mark_as_read: Flag | None = None
    preview: Flag | None = None
    read: Flag | None = None
    include_deleted: Flag | None = Field(None, description="1: tombstones of messages deleted "
                                         "for everyone in their places (`deleted: true`)")
    date_sent_lt: Number | None = Field(None, alias="date_sent[lt]")
    date_sent_gt: Number | None = Field(None, alias="date_sent[gt]")


class FeedQuery(Lax):
    since: str | None = Field(None, description="a cursor from an earlier answer (`next`); "
                              "none: the current cursor and no items")
    limit: Number | None = Field(None, description="most items (default and maximum: "
                                 "`CHAT_FEED__MAX_PAGE`)")


class UnreadQuery(Lax):
    chat_dialog_ids: str | None = Field(None, description="comma-separated dialog ids")


class SearchParams(Lax):
    search_text: str
    limit: Number | None = None
    chat_dialog_ids: str | None = None
    start_date: str | None = Field(None, description="the later bound (ISO 8601 or Unix seconds)")
    end_date: str | None = Field(None, description="the earlier bound")


class ReactionsRequest(Lax):
    add: str | None = None
    remove: str | None = None


# -- blobs -------------------------------------------------------------------------------------------
class BlobRequest(Lax):
    model_config = example({"blob": {"name": "photo.png", "content_type": "image/png",
                                     "public": False}})
    blob: BlobBody


class BlobSize(BaseModel):
    size: Number | None = None


class CompleteBlobRequest(Lax):
    size: Number | None = None
    blob: BlobSize | None = None


class UploadForm(BaseModel):
    key: str | None = Field(None, description="from `blob_object_access.params`")
    token: str | None = None
    file: bytes = Field(json_schema_extra={"contentMediaType": "application/octet-stream"})


class BlobListQuery(Lax):
    page: Number | None = None
    per_page: Number | None = None


class BlobObjectQuery(Lax):
    download_url: Flag | None = Field(None, description="1: also a signed download URL")


class UploadSlotQuery(Lax):
    token: str = Field(description="the slot's one-time credential (from the XMPP slot)")


class DownloadQuery(Lax):
    token: str | None = Field(None, description="a session token (private blobs)")
    expires: Number | None = None
    signature: str | None = None


# -- push --------------------------------------------------------------------------------------------
class DeviceRequest(BaseModel):
    platform: str | None = Field(None, description="ios, android or web")
    udid: str | int | None = None


class PushTokenRequest(Lax):
    environment: str | None = None
    client_identification_sequence: str | None = None
    bundle_identifier: str | None = None
    web_endpoint: str | None = None
    web_auth: str | None = None
    web_p256dh: str | None = None


class SubscriptionRequest(Lax):
    model_config = example({"notification_channel": "apns",
                           "device": {"platform": "ios", "udid": "my-device-id"},
                           "push_token": {"environment": "development",
                                          "client_identification_sequence": "<device token>"}})
    notification_channel: str | list[str] | None = Field(
        None, description="apns, apns_voip, gcm or web (or a comma list)")
    device: DeviceRequest | None = None
    push_token: PushTokenRequest | None = None


class TagSets(BaseModel):
    any: str | list[str] | None = None
    all: str | list[str] | None = None
    exclude: str | list[str] | None = None


class EventUsers(BaseModel):
    ids: Ids | None = None
    tags: TagSets | None = None


class EventFields(Lax):
    notification_type: str | None = None
    environment: str | None = None
    push_type: str | None = None
    event_type: str | None = None
    message: str | None = Field(None, description="the payload, base64 of the JSON or text")
    expiration: Number | None = None
    user: EventUsers | None = None
    external_user: EventUsers | None = None


class EventRequest(Lax):
    model_config = example({"event": {"notification_type": "push",
                                     "environment": "development",
                                     "message": "aGVsbG8=",
                                     "user": {"ids": [2]}}})
    event: EventFields


# -- address books -----------------------------------------------------------------------------------
class ContactRequest(BaseModel):
    name: str | None = Field(None, description="1 to 255 characters (not needed to destroy)")
    phone: str | int = Field(description="10 to 15 digits, separators allowed, optional `+`")
    destroy: Flag | None = Field(None, description="1: remove this contact")


class AddressBookRequest(Lax):
    model_config = example({"contacts": [{"name": "Halldor Kun", "phone": "+354 950 672 8854"},
                                         {"phone": "5309413409", "destroy": 1}],
                            "udid": "d6236da0-f941-11e8-8eb2-f2801f1b9fd1"})
    contacts: list[ContactRequest] | dict[str, ContactRequest] = Field(default_factory=list)
    udid: str | None = Field(None, description="the device's book (up to 64 characters); none: "
                                               "the global book")
    force: Flag | None = Field(None, description="1: replace the whole book with these contacts")


class AddressBookQuery(Lax):
    udid: str | None = Field(None, description="the device's book; none: the global book")


class RegisteredUsersQuery(AddressBookQuery):
    compact: Flag | None = Field(None, description="1: only id, phone and address_book_name")


# -- reports -----------------------------------------------------------------------------------------
class ReportRequest(Lax):
    model_config = example({"type": "message", "id": "5f0c5b3e8d1e4a0012345678",
                            "reason": "spam", "comment": "links to a scam"})
    type: Literal["message", "user", "dialog"]
    id: str | int = Field(description="the message or dialog id, or the user id")
    reason: str = Field(description="why (up to 200 characters)")
    comment: str | None = Field(None, description="more detail (up to 2000 characters)")


# -- the XMPP server's auth module -------------------------------------------------------------------
class XmppAuthQuery(BaseModel):
    user: str = Field(description="`{userId}-{appId}`")
    server: str | None = None
    pass_: str | None = Field(None, alias="pass")


# -- the admin API (rest/schemas/admin.py reads these) ----------------------------------------------
class AdminListRequest(Lax):
    """Filters `field[op]=value` (`gt lt gte lte`) on `_id`, `created_at`, `updated_at` (unix
    seconds), plus `chat_dialog_id` for messages and the other Retrieve Dialogs filters; `limit`
    (max 100), `skip`, `sort_asc` / `sort_desc`. Newest first: page with `_id[lt]=<last id>`.
    Also accepted in a form body (as ConnectyCube's examples send them)."""
    limit: Number | None = None
    skip: Number | None = None
    sort_asc: str | None = None
    sort_desc: str | None = None
    chat_dialog_id: str | None = None
    id_lt: str | None = Field(None, alias="_id[lt]")
    created_at_gte: Number | None = Field(None, alias="created_at[gte]")
    updated_at_gte: Number | None = Field(None, alias="updated_at[gte]")


class AdminStatsRequest(Lax):
    """A window `start_date` ≤ t < `end_date` (unix seconds); per-day calls page days with
    `limit` (default 100) and `offset`; dialog calls may filter `types[]`."""
    start_date: Number | None = None
    end_date: Number | None = None
    limit: Number | None = None
    offset: Number | None = None
    types: list[Number] | str | None = Field(None, alias="types[]")


class AdminSendRequest(CreateMessageRequest):
    model_config = example({"sender_id": 12, "chat_dialog_id": "5f0c5b3e8d1e4a0012345678",
                            "message": "Hello from the support bot", "send_to_chat": 1})
    sender_id: Number


class AdminEditRequest(Lax):
    message: str = Field(description="the new text")
    user_id: Number | None = Field(None, description="act as this user (default: the author)")


class AdminDialogRequest(UpdateDialogRequest):
    user_id: Number | None = Field(None, description="whose per-user fields (`is_muted`) change")
    is_muted: Flag | None = None


class AdminReportsQuery(Lax):
    """Newest first. Also accepted in a form body."""
    status: str | None = Field(None, description="open, resolved, dismissed (or a comma list)")
    type: str | None = Field(None, description="message, user, dialog (or a comma list)")
    reporter_id: Number | None = None
    created_at_gte: Number | None = Field(None, alias="created_at[gte]",
                                          description="unix seconds (also `gt`, `lt`, `lte`)")
    created_at_lt: Number | None = Field(None, alias="created_at[lt]")
    limit: Number | None = None
    skip: Number | None = None


class AdminReportRequest(Lax):
    model_config = example({"status": "resolved", "note": "message removed, user warned"})
    status: Literal["open", "resolved", "dismissed"] | None = None
    note: str | None = Field(None, description="the moderators' note (null clears it)")


# -- webhooks (rest/schemas/webhooks.py reads these) -------------------------------------------------
class WebhookRequest(Lax):
    model_config = example({"url": "https://hooks.example.com/chat",
                            "events": ["message_created", "dialog_occupants_changed"],
                            "description": "moderation bot"})
    url: str = Field(description="https, on a public address")
    events: list[str] | str = Field(description="event types (docs/webhooks.md), a comma list, "
                                                "or `*` for every type")
    enabled: Flag | None = None
    description: str | None = None


class WebhookChangesRequest(Lax):
    model_config = example({"enabled": 0})
    url: str | None = None
    events: list[str] | str | None = None
    enabled: Flag | None = None
    description: str | None = Field(None, description="null clears it")


class RotateSecretRequest(Lax):
    keep_previous_seconds: Number | None = Field(
        None, description="the old secret signs too for this long (at most 86400; default 0)")


class WebhookDeliveriesQuery(Lax):
    state: Literal["pending", "dead"] | None = Field(None, description="dead: the dead letters")
    limit: Number | None = None
    skip: Number | None = None
