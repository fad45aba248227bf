"""URL table: every route of the REST API, in one place and in match order.

Every route answers with and without the `.json` suffix. aiohttp tries routes in the order
they are added, so within an area fixed paths come before the `{id}`-style ones they would
otherwise be swallowed by.

Each row carries its `Doc` (rest/openapi.py): what the OpenAPI document (`GET /openapi.json`)
says about the route. The document is generated from this table and the router, so a row
without one does not start.
"""
from __future__ import annotations

from aiohttp import web

from rest.openapi import ADMIN, OPERATOR, PUBLIC, SIGNUP, XMPP_AUTH, Doc, Raw, RouteDoc, formatter, route_docs_key
from rest.schemas import answers as a
from rest.schemas import requests as q
from rest.keys import services_key
from rest.metrics import make_metrics_view
from rest.schemas.blocklist import BlockUsersRequest
from rest.schemas.reactions import ReactionsBody
from rest.views import blobs, dialogs, docs, health, sessions, users, xmpp_auth
from rest.views import messages, reactions, search
from rest.views import events, subscriptions, upload
from rest.views import admin, admin_stats
from rest.views import address_book, bans, reports
from rest.views import contacts
from rest.views import webhooks
from rest.views import operations
from rest.schemas import operations as o
from rest.views import feed
from rest.schemas import contacts as c
from rest.views import blocklist

TEXT = {"type": "string", "enum": ["true", "false"]}
XMPP_ANSWERS = {401: Raw("text/plain", TEXT, "Wrong or no Basic credentials (`false`)"),
                403: Raw("text/plain", TEXT, "Wrong password (`false`)"),
                404: Raw("text/plain", TEXT, "No such user (`false`)")}
BYTES = Raw("*/*", {"type": "string", "contentMediaType": "application/octet-stream"},
            "The file, with its own Content-Type")
REDIRECT = Raw("", {}, "The file is elsewhere: `Location`",
               {"Location": {"schema": {"type": "string"}}})
BLOB_KEY = {"key": "the blob's id (or uid)", "uid": "the blob's uid"}
IDS = {"ids": "one id or a comma-separated list"}
CONTACT = {"user_id": "the contact's user id"}
HOOK = {"webhook_id": "the webhook's id"}
SLOT = {"uid": "the slot's blob uid", "name": "the file name (shown by clients; not checked)"}


class Routes:
    """The router, and the `Doc` of every route added through `add` / `one`."""

    def __init__(self, app: web.Application) -> None:
        self.router = app.router
        self.docs: dict[tuple[str, str], RouteDoc] = {}

    def one(self, method: str, path: str, handler, doc: Doc) -> None:
        if method == "GET":
            self.router.add_get(path, handler)  # and HEAD, documented from the GET's Doc
        else:
            self.router.add_route(method, path, handler)
        self.docs[(method, formatter(path))] = RouteDoc(doc, path)


def add(r: Routes, method: str, path: str, handler, doc: Doc, json_only: bool = False) -> None:
    """Registers `path.json` first (so `{id}` does not swallow the suffix), then `path`."""
    r.router.add_route(method, path + ".json", handler)
    r.docs[(method, formatter(path + ".json"))] = RouteDoc(doc, path + ".json")
    if not json_only:
        r.router.add_route(method, path, handler)
        r.docs[(method, formatter(path))] = RouteDoc(doc, path)


def setup_routes(app: web.Application) -> None:
    r = Routes(app)
    r.one("GET", "/health", health.health, Doc(
        "Health of the store and the parts the process runs", "service", a.HealthAnswer,
        security=PUBLIC, errors=False, also={503: a.HealthAnswer}))
    services = app[services_key]
    if services.settings.metrics.enabled:  # Prometheus, with its own access rule (rest/metrics.py)
        r.one("GET", "/metrics", make_metrics_view(services.metrics, services.settings), Doc(
            "Prometheus metrics (loopback or `CHAT_METRICS__TOKEN` only; docs/metrics.md)",
            "service", Raw("text/plain", {"type": "string"}), security=PUBLIC))

    # the document and its page (rest/views/docs.py)
    r.one("GET", "/openapi.json", docs.openapi_json, Doc(
        "This OpenAPI document", "service", Raw("application/json", {"type": "object"}),
        security=PUBLIC, errors=False))
    r.one("GET", "/docs", docs.docs_page, Doc(
        "Swagger UI", "service", Raw("text/html", {"type": "string"}), security=PUBLIC,
        errors=False))
    r.one("GET", f"/docs/{{asset:{docs.ASSET_PATTERN}}}", docs.docs_asset, Doc(
        "A file of the Swagger UI page", "service", Raw("*/*", {}), security=PUBLIC,
        errors=False, also={404: a.ErrorAnswer}))

    # sessions
    add(r, "POST", "/session", sessions.create_session, Doc(
        "Create an application or user session", "sessions", a.SessionAnswer, 201,
        security=PUBLIC, body=q.CreateSessionRequest,
        description="A `CB-Token` sent along is ignored."))
    add(r, "GET", "/session", sessions.get_session, Doc(
        "The caller's session", "sessions", a.SessionAnswer))
    add(r, "DELETE", "/session", sessions.destroy_session, Doc(
        "End the caller's session", "sessions"))
    add(r, "POST", "/login", sessions.login, Doc(
        "Log a user into an application session", "sessions", a.UserAnswer, 202,
        body=q.LoginRequest))
    add(r, "DELETE", "/login", sessions.logout, Doc(
        "Log the user out (the session stays an application session)", "sessions"))
    add(r, "POST", "/session/refresh", sessions.refresh_session, Doc(
        "Trade a refresh token for a new session (and refresh token)", "sessions",
        a.SessionAnswer, 201, security=PUBLIC, body=q.RefreshSessionRequest,
        description="The refresh token stops working. One that was already used ends its whole "
                    "login (every session made from it) and answers 401."))
    add(r, "GET", "/sessions", sessions.list_sessions, Doc(
        "The caller's sessions (logins) and their devices", "sessions", a.SessionsPage))
    add(r, "DELETE", "/sessions", sessions.end_other_sessions, Doc(
        "End every session of the caller but this one", "sessions", a.SessionsEndedAnswer,
        description="Their refresh tokens and XMPP connections end too."))
    add(r, "DELETE", "/sessions/{session_id:\\d+}", sessions.end_session, Doc(
        "End one of the caller's sessions", "sessions", params={"session_id": "the session's id"},
        description="Its refresh token and XMPP connections end too. Another user's session "
                    "is not found (404)."))

    # users
    add(r, "POST", "/users", users.signup, Doc(
        "Sign up", "users", a.UserAnswer, 201, security=SIGNUP, body=q.UserRequest))
    add(r, "GET", "/users", users.list_users_legacy, Doc(
        "List users (legacy filters)", "users", a.LegacyUsersPage, query=q.LegacyUserListQuery))
    add(r, "GET", "/users/v2", users.list_users, Doc(
        "List users", "users", a.UsersPage, query=q.UserListQuery))
    add(r, "GET", "/users/online", users.list_online, Doc(
        "Users connected to the chat now", "users", a.OnlineAnswer, query=q.OnlineQuery))
    add(r, "PUT", "/users", users.update_user, Doc(
        "Update the caller's profile", "users", a.UserAnswer, body=q.UserRequest))
    add(r, "DELETE", "/users", users.delete_user, Doc("Delete the caller's account", "users"))
    add(r, "POST", "/users/password/reset", users.reset_password, Doc(
        "Ask for a password reset", "users", body=q.PasswordResetRequest))
    for path, field in users.LEGACY_LOOKUPS.items():
        add(r, "GET", path, users.make_lookup(field), Doc(
            f"Find users by {field}" if field == "full_name" else f"Find a user by {field}",
            "users", a.LegacyUsersPage if field == "full_name" else a.UserAnswer,
            query=q.lookup_query(field)))
    add(r, "GET", "/users/by_tags", users.list_users_by_tags, Doc(
        "Find users by tags (any of them)", "users", a.LegacyUsersPage, query=q.UsersByTagsQuery))
    add(r, "GET", "/users/external/{external_id}", users.get_by_external_id, Doc(
        "Find a user by external_user_id", "users", a.UserAnswer))
    add(r, "GET", "/users/{user_id:\\d+}", users.get_user, Doc("A user", "users", a.UserAnswer))
    add(r, "PUT", "/users/{user_id:\\d+}", users.update_user, Doc(
        "Update the caller's profile (`user_id` is the caller)", "users", a.UserAnswer,
        body=q.UserRequest))
    add(r, "DELETE", "/users/{user_id:\\d+}", users.delete_user, Doc(
        "Delete the caller's account (`user_id` is the caller)", "users"))

    # the block list (rest/views/blocklist.py): the same list as XEP-0191 and privacy lists
    add(r, "GET", "/blocklist", blocklist.list_blocked, Doc(
        "The users the caller blocked", "blocklist", a.UsersPage,
        description="In the order they were blocked; the whole list (at most "
                    "`CHAT_LIMITS__MAX_BLOCKED_USERS`, the answer's `limit`)."))
    add(r, "POST", "/blocklist", blocklist.block_users, Doc(
        "Block users", "blocklist", a.UsersPage, body=BlockUsersRequest,
        description="Adds `user_ids` (already blocked ones are kept) and answers the whole list. "
                    "All or nothing: an id that is not a user of the caller's application "
                    "answers 404 and blocks nobody; the caller's own id or a list past "
                    "the limit answers 422."))
    add(r, "DELETE", "/blocklist/{user_id}", blocklist.unblock_user, Doc(
        "Unblock a user", "blocklist", None, params={"user_id": "the blocked user's id"},
        description="A user who is not on the list answers 200 too (nothing to do)."))

    # the XMPP server's auth module asks these (rest/views/xmpp_auth.py)
    r.one("GET", "/xmpp-auth/check_password", xmpp_auth.check_password, Doc(
        "Check a user's password (or session token)", "internal",
        Raw("text/plain", TEXT, "`true`"), security=XMPP_AUTH, query=q.XmppAuthQuery,
        errors=False, also=XMPP_ANSWERS))
    r.one("GET", "/xmpp-auth/user_exists", xmpp_auth.user_exists, Doc(
        "Does a user exist", "internal", Raw("text/plain", TEXT, "`true`"),
        security=XMPP_AUTH, query=q.XmppAuthQuery, errors=False, also=XMPP_ANSWERS))

    # blobs: `/blobs/upload` first; `/blobs/{key}.json` (info) before `/blobs/{uid}` (the bytes)
    add(r, "POST", "/blobs/upload", blobs.upload_blob, Doc(
        "Upload a blob's file (the URL of `blob_object_access.params`)", "blobs", a.BlobAnswer,
        201, security=PUBLIC, body=q.UploadForm, body_media=("multipart/form-data",),
        description="The form carries `key` and `token` (or the query string does), then `file`."))
    add(r, "POST", "/blobs", blobs.create_blob, Doc(
        "Create a blob (and its upload URL)", "blobs", a.BlobAnswer, 201, body=q.BlobRequest))
    add(r, "GET", "/blobs", blobs.list_blobs, Doc(
        "The caller's blobs", "blobs", a.BlobsPage, query=q.BlobListQuery))
    add(r, "PUT", "/blobs/{key}/complete", blobs.complete_blob, Doc(
        "Mark a blob complete", "blobs", a.BlobAnswer, body=q.CompleteBlobRequest,
        params=BLOB_KEY))
    add(r, "POST", "/blobs/{key}/complete", blobs.complete_blob, Doc(
        "Mark a blob complete", "blobs", a.BlobAnswer, body=q.CompleteBlobRequest,
        params=BLOB_KEY))
    add(r, "GET", "/blobs/{key}/object", blobs.get_blob_object, Doc(
        "A blob and its read access (`download_url=1`: a signed URL)", "blobs", a.BlobAnswer,
        query=q.BlobObjectQuery, params=BLOB_KEY))
    r.one("GET", "/blobs/{uid}/download", blobs.download_blob, Doc(
        "Download a blob's file (as an attachment)", "blobs", BYTES, security=PUBLIC,
        query=q.DownloadQuery, params=BLOB_KEY, also={302: REDIRECT},
        description="Public blobs need nothing; private ones a session of the application "
                    "(`token` or `CB-Token`) or a signed URL."))
    r.one("GET", "/blobs/{key}.json", blobs.get_blob, Doc(
        "A blob's info (with `blob[...]` parameters: an update, as the SDK sends it)", "blobs",
        a.BlobAnswer, params=BLOB_KEY))
    r.one("GET", "/blobs/{uid}", blobs.download_blob, Doc(
        "Download a blob's file", "blobs", BYTES, security=PUBLIC, query=q.DownloadQuery,
        params=BLOB_KEY, also={302: REDIRECT}))
    # XEP-0363 slots (rest/views/upload.py)
    r.one("PUT", "/upload/{uid}/{name}", upload.put_upload, Doc(
        "Put the file of an XMPP upload slot (XEP-0363)", "blobs", None, 201, security=PUBLIC,
        body=Raw("*/*", {"type": "string", "contentMediaType": "application/octet-stream"}),
        query=q.UploadSlotQuery, params=SLOT))
    r.one("GET", "/upload/{uid}/{name}", upload.get_upload, Doc(
        "Get the file of an XMPP upload slot", "blobs", BYTES, security=PUBLIC,
        query=q.DownloadQuery, params=SLOT, also={302: REDIRECT}))
    add(r, "PUT", "/blobs/{key}", blobs.update_blob, Doc(
        "Rename a blob, change its type or visibility (`new=1`: a new upload URL)", "blobs",
        a.BlobAnswer, body=q.BlobRequest, params=BLOB_KEY))
    add(r, "DELETE", "/blobs/{key}", blobs.delete_blob, Doc(
        "Delete a blob", "blobs", params=BLOB_KEY))

    # dialogs: `clearHistory/{id}` and `/{id}/<action>` before `/{ids}` (one segment)
    add(r, "GET", "/chat/Dialog", dialogs.list_dialogs, Doc(
        "The caller's dialogs", "dialogs", a.DialogsAnswer, query=q.DialogListQuery))
    add(r, "POST", "/chat/Dialog", dialogs.create_dialog, Doc(
        "Create a dialog (a private one that exists answers 200)", "dialogs", a.DialogJson,
        201, body=q.CreateDialogRequest, also={200: a.DialogJson}))
    add(r, "DELETE", "/chat/Dialog/clearHistory/{dialog_id}", dialogs.clear_history, Doc(
        "Clear a dialog's history for the caller", "dialogs", body=q.ForceRequest))
    add(r, "PUT", "/chat/Dialog/{dialog_id}/admins", dialogs.update_admins, Doc(
        "Add or remove admins", "dialogs", a.DialogJson, body=q.UpdateAdminsRequest))
    add(r, "GET", "/chat/Dialog/{dialog_id}/notifications", dialogs.get_notifications, Doc(
        "Are the dialog's notifications on for the caller", "dialogs", a.NotificationsAnswer))
    add(r, "PUT", "/chat/Dialog/{dialog_id}/notifications", dialogs.update_notifications, Doc(
        "Turn the dialog's notifications on or off", "dialogs", a.NotificationsAnswer,
        body=q.NotificationsRequest))
    add(r, "PUT", "/chat/Dialog/{dialog_id}/archive", dialogs.archive_dialog, Doc(
        "Move a dialog into or out of the caller's archive", "dialogs", a.DialogJson,
        body=q.ArchiveRequest,
        description="Members only. `GET /chat/Dialog?archived=1` lists the archive, "
                    "`archived=0` the other dialogs; new messages leave it archived."))
    add(r, "PUT", "/chat/Dialog/{dialog_id}/hidden", dialogs.hide_dialog, Doc(
        "Hide a dialog from the caller's list without leaving it (or show it again)", "dialogs",
        a.DialogJson, body=q.HiddenRequest,
        description="Members only. A hidden dialog comes back with its next message; the "
                    "caller stays an occupant and keeps receiving its messages."))
    # the seed writes the lower-case `/chat/dialog/{id}/subscribe` (and `/block`, below)
    for base in ("/chat/Dialog", "/chat/dialog"):
        add(r, "POST", base + "/{dialog_id}/subscribe", dialogs.subscribe, Doc(
            "Join a public dialog", "dialogs", a.DialogJson))
        add(r, "DELETE", base + "/{dialog_id}/subscribe", dialogs.unsubscribe, Doc(
            "Leave a public dialog", "dialogs"))
    add(r, "GET", "/chat/Dialog/{dialog_id}/occupants", dialogs.public_occupants, Doc(
        "A public dialog's occupants", "dialogs", a.OccupantsPage, query=q.PageQuery))
    # bans: ConnectyCube documents the lower-case `/chat/dialog/`; the SDK's other calls use
    # `/chat/Dialog/`: both (rest/views/bans.py)
    for base in ("/chat/Dialog", "/chat/dialog"):
        add(r, "POST", base + "/{dialog_id}/block", bans.ban_user, Doc(
            "Ban a user from a dialog (owner and admins of group, public, broadcast dialogs)",
            "dialogs", None, body=q.BanRequest,
            description="The user is removed (unsubscribed, kicked from the room) and can't "
                        "come back while banned. The owner and admins can't be banned."))
        add(r, "DELETE", base + "/{dialog_id}/block", bans.unban_user, Doc(
            "Lift a user's ban (nobody is added back)", "dialogs", None, body=q.BanRequest))
        add(r, "GET", base + "/{dialog_id}/block", bans.list_banned, Doc(
            "The users banned from a dialog (owner and admins)", "dialogs", a.OccupantsPage,
            query=q.PageQuery))
    add(r, "PUT", "/chat/Dialog/{dialog_id}", dialogs.update_dialog, Doc(
        "Update a dialog", "dialogs", a.DialogJson, body=q.UpdateDialogRequest))
    add(r, "DELETE", "/chat/Dialog/{ids}", dialogs.delete_dialogs, Doc(
        "Delete dialogs (for the caller; `force=1`: for everyone)", "dialogs", a.DeleteResult,
        body=q.ForceRequest, params=IDS))

    # messages: fixed paths (`unread`, `system`) and `/{id}/reactions` before `/{ids}`
    add(r, "GET", "/chat/Message/unread", messages.unread_count, Doc(
        "Unread counts", "messages", a.UnreadCounts, query=q.UnreadQuery))
    add(r, "POST", "/chat/Message/system", messages.create_system_message, Doc(
        "Send a system message (real time only, not stored)", "messages",
        a.SystemMessageAnswer, body=q.SystemMessageRequest))
    add(r, "GET", "/chat/events", feed.list_events, Doc(
        "What changed in the caller's dialogs and their own state since a cursor", "messages",
        a.FeedAnswer, query=q.FeedQuery, also={410: a.ErrorAnswer},
        description="Oldest first. Without `since`: the current cursor and no items (where a "
        "client starts). A cursor older than the retention (`CHAT_FEED__RETENTION_DAYS`) answers "
        "410: read the dialogs and their history again, then start from a new cursor."))
    add(r, "GET", "/chat/Message", messages.list_messages, Doc(
        "A dialog's history", "messages", a.MessagesAnswer, query=q.MessageListQuery))
    add(r, "POST", "/chat/Message", messages.create_message, Doc(
        "Send a message", "messages", a.MessageJson, 201, body=q.CreateMessageRequest))
    add(r, "PUT", "/chat/Message", messages.update_messages, Doc(
        "Mark all messages of `chat_dialog_id` read or delivered", "messages",
        body=q.UpdateMessagesRequest))
    add(r, "GET", "/chat/Message/{id}/reactions", reactions.list_reactions, Doc(
        "A message's reactions", "messages", a.Reactions))
    add(r, "PUT", "/chat/Message/{id}/reactions", reactions.update_reactions, Doc(
        "Add or remove the caller's reaction", "messages", body=ReactionsBody))
    add(r, "PUT", "/chat/Message/{ids}", messages.update_messages, Doc(
        "Edit a message, or mark messages read or delivered", "messages",
        body=q.UpdateMessagesRequest, params=IDS))
    add(r, "DELETE", "/chat/Message/{ids}", messages.delete_messages, Doc(
        "Delete messages (for the caller; `force=1`: for everyone)", "messages",
        a.DeleteResult, body=q.ForceRequest, params=IDS))
    add(r, "GET", "/chat/search", search.search, Doc(
        "Search dialogs, messages and users", "messages", a.SearchAnswer, query=q.SearchParams))

    # push
    add(r, "POST", "/subscriptions", subscriptions.create_subscription, Doc(
        "Subscribe a device to pushes", "push", a.Subscriptions, 201,
        body=q.SubscriptionRequest))
    add(r, "GET", "/subscriptions", subscriptions.list_subscriptions, Doc(
        "The caller's push subscriptions", "push", a.Subscriptions))
    add(r, "DELETE", "/subscriptions/{subscription_id}", subscriptions.delete_subscription, Doc(
        "Delete a push subscription", "push", None))
    add(r, "POST", "/events", events.create_event, Doc(
        "Send a push notification to users", "push", a.Events, 201, body=q.EventRequest))

    # address books (rest/views/address_book.py): the fixed path before nothing else
    add(r, "POST", "/address_book", address_book.upload_address_book, Doc(
        "Upload (create, rename, destroy; `force=1`: replace) address book contacts",
        "address_book", a.AddressBookUploadAnswer, body=q.AddressBookRequest,
        description="Contacts that can't be taken are `rejected` by index, with the reason."))
    add(r, "GET", "/address_book", address_book.get_address_book, Doc(
        "The caller's address book (a device's with `udid`)", "address_book", a.AddressBook,
        query=q.AddressBookQuery))
    add(r, "GET", "/address_book/registered_users", address_book.registered_users, Doc(
        "Users of the application in the caller's address book (matched by phone)",
        "address_book", a.RegisteredUsers, query=q.RegisteredUsersQuery))

    # reports (rest/views/reports.py; the moderators' side is in the admin API below)
    add(r, "POST", "/reports", reports.create_report, Doc(
        "Report a message, a user or a dialog", "reports", a.ReportJson, 201,
        body=q.ReportRequest,
        description="The caller must see what they report (else 404); one open report per "
                    "reporter and object (422); rate-limited (429 with `Retry-After`)."))
    add(r, "GET", "/reports", reports.list_reports, Doc(
        "The caller's own reports, newest first", "reports", a.ReportsPage, query=q.PageQuery))
    # contacts: the caller's list, also their XMPP roster (docs/xmpp.md, "Contacts and roster")
    add(r, "GET", "/contacts", contacts.list_contacts, Doc(
        "The caller's contacts (profile, presence subscription, online / last seen) and the "
        "requests of users not in the list", "contacts", c.ContactsAnswer))
    add(r, "POST", "/contacts", contacts.add_contacts, Doc(
        "Add users to the caller's contacts and ask to see their presence (approves their own "
        "request when they sent one)", "contacts", c.AddContactsAnswer,
        body=c.AddContactsRequest))
    add(r, "PUT", "/contacts/{user_id}", contacts.update_contact, Doc(
        "The caller's own name and picture for a contact", "contacts", c.ContactAnswer,
        body=c.UpdateContactRequest, params=CONTACT))
    add(r, "DELETE", "/contacts/{user_id}", contacts.delete_contact, Doc(
        "Remove a contact (both presence subscriptions end), or decline a request", "contacts",
        None, params=CONTACT))

    # the admin API (CB-Administration-API-Key): fixed paths before `/admin/chat/{dialog_id}`
    add(r, "GET", "/admin/chat/list", admin.list_dialogs, Doc(
        "Every dialog of the application, with the admin-only fields", "admin",
        a.AdminDialogsPage, security=ADMIN, query=q.AdminListRequest))
    add(r, "GET", "/admin/chat/messages/list", admin.list_messages, Doc(
        "Messages of the application, with `deleted_for_ids`", "admin", a.AdminMessagesPage,
        security=ADMIN, query=q.AdminListRequest))
    add(r, "POST", "/admin/chat/messages", admin.create_message, Doc(
        "Send a message as `sender_id` (stored, relayed and pushed like their own)", "admin",
        a.MessageJson, 201, security=ADMIN, body=q.AdminSendRequest))
    add(r, "PUT", "/admin/chat/messages/{message_id}", admin.update_message, Doc(
        "Edit a message as `user_id` (default: its author)", "admin", a.AdminMessageJson,
        security=ADMIN, body=q.AdminEditRequest))
    add(r, "DELETE", "/admin/chat/messages/{message_id}", admin.delete_message, Doc(
        "Delete a message for everyone", "admin", a.Success, security=ADMIN))
    add(r, "PUT", "/admin/chat/{dialog_id}", admin.update_dialog, Doc(
        "Update a dialog (the Update Dialog parameters, plus `user_id` for per-user fields)",
        "admin", a.AdminDialogJson, security=ADMIN, body=q.AdminDialogRequest))
    add(r, "GET", "/admin/users", admin.list_users, Doc(
        "The application's users (the `/users/v2` filters)", "admin", a.AdminUsersPage,
        security=ADMIN))
    add(r, "DELETE", "/admin/user/{user_id}", admin.delete_user, Doc(
        "Delete a user", "admin", a.Success, security=ADMIN))
    add(r, "GET", "/admin/reports", reports.admin_list_reports, Doc(
        "Every report of the application (filters: status, type, reporter, time)", "admin",
        a.AdminReportsPage, security=ADMIN, query=q.AdminReportsQuery))
    add(r, "PUT", "/admin/reports/{report_id}", reports.admin_review_report, Doc(
        "Review a report: its status and the moderators' note", "admin", a.AdminReportJson,
        security=ADMIN, body=q.AdminReportRequest))
    add(r, "GET", "/admin/stats/messages/sent-total", admin_stats.messages_sent_total, Doc(
        "Messages sent between two dates", "admin", a.Total, security=ADMIN,
        query=q.AdminStatsRequest))
    add(r, "GET", "/admin/stats/messages/sent-per-day", admin_stats.messages_sent_per_day, Doc(
        "Messages sent per day", "admin", a.PerDay, security=ADMIN, query=q.AdminStatsRequest))
    add(r, "GET", "/admin/stats/dialogs/created-total", admin_stats.dialogs_created_total, Doc(
        "Dialogs created between two dates", "admin", a.Total, security=ADMIN,
        query=q.AdminStatsRequest))
    add(r, "GET", "/admin/stats/dialogs/created-per-day", admin_stats.dialogs_created_per_day, Doc(
        "Dialogs created per day", "admin", a.PerDay, security=ADMIN, query=q.AdminStatsRequest))

    # webhooks (rest/views/webhooks.py; docs/webhooks.md): fixed paths before `{webhook_id}`
    add(r, "POST", "/admin/webhooks", webhooks.create_webhook, Doc(
        "Add a webhook endpoint (the answer shows its signing secret, once)", "admin",
        a.WebhookWithSecret, 201, security=ADMIN + OPERATOR, body=q.WebhookRequest,
        description="The URL must be https on a public address (checked now and at every "
                    "delivery)."))
    add(r, "GET", "/admin/webhooks", webhooks.list_webhooks, Doc(
        "The application's webhook endpoints", "admin", a.WebhooksAnswer, security=ADMIN + OPERATOR))
    add(r, "GET", "/admin/webhooks/{webhook_id}", webhooks.get_webhook, Doc(
        "A webhook endpoint", "admin", a.WebhookJson, security=ADMIN + OPERATOR, params=HOOK))
    add(r, "PUT", "/admin/webhooks/{webhook_id}", webhooks.update_webhook, Doc(
        "Change a webhook endpoint's URL, event types, description, or turn it on or off",
        "admin", a.WebhookJson, security=ADMIN + OPERATOR, body=q.WebhookChangesRequest, params=HOOK))
    add(r, "DELETE", "/admin/webhooks/{webhook_id}", webhooks.delete_webhook, Doc(
        "Delete a webhook endpoint (and its queued deliveries and dead letters)", "admin",
        a.Success, security=ADMIN + OPERATOR, params=HOOK))
    add(r, "POST", "/admin/webhooks/{webhook_id}/secret", webhooks.rotate_secret, Doc(
        "Rotate a webhook's signing secret (the answer shows the new one, once)", "admin",
        a.WebhookWithSecret, security=ADMIN + OPERATOR, body=q.RotateSecretRequest, params=HOOK))
    add(r, "GET", "/admin/webhooks/{webhook_id}/deliveries", webhooks.list_deliveries, Doc(
        "A webhook's queued deliveries and dead letters, newest first", "admin",
        a.WebhookDeliveriesPage, security=ADMIN + OPERATOR, query=q.WebhookDeliveriesQuery, params=HOOK))
    add(r, "POST", "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        webhooks.redeliver, Doc(
            "Queue a dead letter again (same delivery id, attempts counted afresh)", "admin",
            a.WebhookDeliveryJson, security=ADMIN + OPERATOR,
            params={**HOOK, "delivery_id": "the delivery's id"}))

    # the operators' routes (rest/views/operations.py; `chatbridge` next to an embedded store)
    APP = {"app_id": "the application's id"}
    add(r, "GET", "/admin/apps", operations.list_apps, Doc(
        "Every application (no secrets)", "admin", o.AppsList, security=OPERATOR))
    add(r, "POST", "/admin/apps", operations.create_app, Doc(
        "Create an application: its auth key, auth secret and admin key, shown once", "admin",
        o.AppKeysJson, 201, security=OPERATOR, body=o.CreateAppRequest))
    add(r, "GET", "/admin/apps/{app_id}", operations.get_app, Doc(
        "One application, with its number of users", "admin", o.AppJson, security=OPERATOR,
        params=APP))
    add(r, "POST", "/admin/apps/{app_id}/keys", operations.rotate_keys, Doc(
        "A new admin key (with `auth`, also a new auth key and secret), shown once", "admin",
        o.AppKeysJson, security=OPERATOR, body=o.RotateKeysRequest, params=APP))
    add(r, "POST", "/admin/apps/{app_id}/users/import", operations.import_users, Doc(
        "Sign up a batch of users (the `POST /users` checks); each row's id or error", "admin",
        o.ImportUsersAnswer, security=ADMIN + OPERATOR, body=o.ImportUsersRequest, params=APP))
    add(r, "DELETE", "/admin/apps/{app_id}/users/{user_id}", operations.delete_user, Doc(
        "Delete a user of the application", "admin", a.Success, security=ADMIN + OPERATOR,
        params={**APP, "user_id": "the user's id"}))
    add(r, "GET", "/admin/apps/{app_id}/export", operations.export_messages, Doc(
        "Every stored message (of one dialog), oldest first, as JSON lines (streamed)", "admin",
        Raw("application/x-ndjson", {"type": "string"}, "One admin message object per line"),
        security=ADMIN + OPERATOR, query=o.ExportQuery, params=APP))

    app[route_docs_key] = r.docs
    app[docs.document_key] = docs.DocumentCache()
