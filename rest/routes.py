"""URL table: every route of the REST API, in one place and in match order.

Every route answers with and without the `.json` suffix. aiohttp tries routes in the order
they are added, so within an area fixed paths come before the `{id}`-style ones they would
otherwise be swallowed by.
"""
from __future__ import annotations

from aiohttp import web

from rest.keys import services_key
from rest.metrics import make_metrics_view
from rest.views import blobs, dialogs, health, sessions, users, xmpp_auth
from rest.views import messages, reactions, search
from rest.views import events, subscriptions, upload


def add(router: web.UrlDispatcher, method: str, path: str, handler, json_only: bool = False) -> None:
    """Registers `path.json` first (so `{id}` does not swallow the suffix), then `path`."""
    router.add_route(method, path + ".json", handler)
    if not json_only:
        router.add_route(method, path, handler)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/health", health.health)
    services = app[services_key]
    if services.settings.metrics.enabled:  # Prometheus, with its own access rule (rest/metrics.py)
        r.add_get("/metrics", make_metrics_view(services.metrics, services.settings))

    # sessions
    add(r, "POST", "/session", sessions.create_session)
    add(r, "GET", "/session", sessions.get_session)
    add(r, "DELETE", "/session", sessions.destroy_session)
    add(r, "POST", "/login", sessions.login)
    add(r, "DELETE", "/login", sessions.logout)

    # users
    add(r, "POST", "/users", users.signup)
    add(r, "GET", "/users", users.list_users_legacy)
    add(r, "GET", "/users/v2", users.list_users)
    add(r, "GET", "/users/online", users.list_online)
    add(r, "PUT", "/users", users.update_user)
    add(r, "DELETE", "/users", users.delete_user)
    add(r, "POST", "/users/password/reset", users.reset_password)
    for path, field in users.LEGACY_LOOKUPS.items():
        add(r, "GET", path, users.make_lookup(field))
    add(r, "GET", "/users/external/{external_id}", users.get_by_external_id)
    add(r, "GET", "/users/{user_id:\\d+}", users.get_user)
    add(r, "PUT", "/users/{user_id:\\d+}", users.update_user)
    add(r, "DELETE", "/users/{user_id:\\d+}", users.delete_user)

    # the XMPP server's auth module asks these (rest/views/xmpp_auth.py)
    r.add_get("/xmpp-auth/check_password", xmpp_auth.check_password)
    r.add_get("/xmpp-auth/user_exists", xmpp_auth.user_exists)

    # blobs: `/blobs/upload` first; `/blobs/{key}.json` (info) before `/blobs/{uid}` (the bytes)
    add(r, "POST", "/blobs/upload", blobs.upload_blob)
    add(r, "POST", "/blobs", blobs.create_blob)
    add(r, "GET", "/blobs", blobs.list_blobs)
    add(r, "PUT", "/blobs/{key}/complete", blobs.complete_blob)
    add(r, "POST", "/blobs/{key}/complete", blobs.complete_blob)
    add(r, "GET", "/blobs/{key}/object", blobs.get_blob_object)
    r.add_get("/blobs/{uid}/download", blobs.download_blob)
    r.add_get("/blobs/{key}.json", blobs.get_blob)
    r.add_get("/blobs/{uid}", blobs.download_blob)
    # XEP-0363 slots (rest/views/upload.py)
    r.add_put("/upload/{uid}/{name}", upload.put_upload)
    r.add_get("/upload/{uid}/{name}", upload.get_upload)
    add(r, "PUT", "/blobs/{key}", blobs.update_blob)
    add(r, "DELETE", "/blobs/{key}", blobs.delete_blob)

    # dialogs: `clearHistory/{id}` and `/{id}/<action>` before `/{ids}` (one segment)
    add(r, "GET", "/chat/Dialog", dialogs.list_dialogs)
    add(r, "POST", "/chat/Dialog", dialogs.create_dialog)
    add(r, "DELETE", "/chat/Dialog/clearHistory/{dialog_id}", dialogs.clear_history)
    add(r, "PUT", "/chat/Dialog/{dialog_id}/admins", dialogs.update_admins)
    add(r, "GET", "/chat/Dialog/{dialog_id}/notifications", dialogs.get_notifications)
    add(r, "PUT", "/chat/Dialog/{dialog_id}/notifications", dialogs.update_notifications)
    add(r, "POST", "/chat/Dialog/{dialog_id}/subscribe", dialogs.subscribe)
    add(r, "DELETE", "/chat/Dialog/{dialog_id}/subscribe", dialogs.unsubscribe)
    add(r, "GET", "/chat/Dialog/{dialog_id}/occupants", dialogs.public_occupants)
    add(r, "PUT", "/chat/Dialog/{dialog_id}", dialogs.update_dialog)
    add(r, "DELETE", "/chat/Dialog/{ids}", dialogs.delete_dialogs)

    # messages: fixed paths (`unread`, `system`) and `/{id}/reactions` before `/{ids}`
    add(r, "GET", "/chat/Message/unread", messages.unread_count)
    add(r, "POST", "/chat/Message/system", messages.create_system_message)
    add(r, "GET", "/chat/Message", messages.list_messages)
    add(r, "POST", "/chat/Message", messages.create_message)
    add(r, "PUT", "/chat/Message", messages.update_messages)
    add(r, "GET", "/chat/Message/{id}/reactions", reactions.list_reactions)
    add(r, "PUT", "/chat/Message/{id}/reactions", reactions.update_reactions)
    add(r, "PUT", "/chat/Message/{ids}", messages.update_messages)
    add(r, "DELETE", "/chat/Message/{ids}", messages.delete_messages)
    add(r, "GET", "/chat/search", search.search)

    # push
    add(r, "POST", "/subscriptions", subscriptions.create_subscription)
    add(r, "GET", "/subscriptions", subscriptions.list_subscriptions)
    add(r, "DELETE", "/subscriptions/{subscription_id}", subscriptions.delete_subscription)
    add(r, "POST", "/events", events.create_event)
