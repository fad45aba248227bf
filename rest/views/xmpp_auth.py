"""Internal endpoint for the XMPP server's auth module (HTTP Basic, credentials from settings).

GET /xmpp-auth/check_password?user={userId}-{appId}&server=&pass= → 200 `true`, else 401 `false`.
When the password is a session token, the answer names the session (`X-Chatbridge-Session: {id}`):
the auth module keeps it on the connection, so ending the session closes it (docs/xmpp.md).
"""
from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from models.jids import parse_user_local
from rest.keys import services_key

SESSION_HEADER = "X-Chatbridge-Session"


def _authorized(request: web.Request) -> bool:
    settings = request.app[services_key].settings.xmpp
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user.encode(), settings.auth_user.encode()) and hmac.compare_digest(
        password.encode(), settings.auth_password.get_secret_value().encode())


def _deny(status: int = 401) -> web.Response:
    return web.Response(status=status, text="false", content_type="text/plain",
                        headers={"WWW-Authenticate": 'Basic realm="xmpp-auth"'} if status == 401 else None)


async def check_password(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _deny()
    services = request.app[services_key]
    user = request.query.get("user", "")
    password = request.query.get("pass", "")
    session_id = await services.sessions.xmpp_login(user, password)
    if session_id is not None:
        headers = {SESSION_HEADER: str(session_id)} if session_id else None
        return web.Response(text="true", content_type="text/plain", headers=headers)
    return _deny(403)


async def user_exists(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _deny()
    services = request.app[services_key]
    ids = parse_user_local(request.query.get("user", ""))
    if ids is None:
        return _deny(404)
    try:
        await services.users.get_entity(*ids)
    except Exception:  # noqa: BLE001 - any unknown user is "no"
        return _deny(404)
    return web.Response(text="true", content_type="text/plain")
