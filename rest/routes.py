"""URL table. Every route answers with and without the `.json` suffix."""
from __future__ import annotations

from aiohttp import web

from rest.views import health, sessions, users, xmpp_auth


def add(router: web.UrlDispatcher, method: str, path: str, handler, json_only: bool = False) -> None:
    """Registers `path.json` first (so `{id}` does not swallow the suffix), then `path`."""
    router.add_route(method, path + ".json", handler)
    if not json_only:
        router.add_route(method, path, handler)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/health", health.health)
    add(r, "POST", "/session", sessions.create_session)
    add(r, "GET", "/session", sessions.get_session)
    add(r, "DELETE", "/session", sessions.destroy_session)
    add(r, "POST", "/login", sessions.login)
    add(r, "DELETE", "/login", sessions.logout)

    add(r, "POST", "/users", users.signup)
    add(r, "GET", "/users", users.list_users_legacy)
    add(r, "GET", "/users/v2", users.list_users)
    add(r, "PUT", "/users", users.update_user)
    add(r, "DELETE", "/users", users.delete_user)
    add(r, "POST", "/users/password/reset", users.reset_password)
    for path, field in users.LEGACY_LOOKUPS.items():
        add(r, "GET", path, users.make_lookup(field))
    add(r, "GET", "/users/external/{external_id}", users.get_by_external_id)
    add(r, "GET", "/users/{user_id:\\d+}", users.get_user)
    add(r, "PUT", "/users/{user_id:\\d+}", users.update_user)
    add(r, "DELETE", "/users/{user_id:\\d+}", users.delete_user)

    r.add_get("/xmpp-auth/check_password", xmpp_auth.check_password)
    r.add_get("/xmpp-auth/user_exists", xmpp_auth.user_exists)

    for setup in EXTRA_ROUTES:
        setup(app)


# Feature modules append their own `setup_*_routes(app)` here (dialogs, messages, blobs, push...).
EXTRA_ROUTES: list = []
