"""Resolving the caller: `CB-Token` → Requester, lazily, so /session ignores stale tokens."""
from __future__ import annotations

from aiohttp import web

from models.errors import ForbiddenError
from models.requester import Requester
from rest.keys import services_key

REQUESTER: web.RequestKey[Requester] = web.RequestKey("requester", Requester)


async def requester(request: web.Request) -> Requester:
    """Any live session (application or user); 401 'Required session does not exist' otherwise."""
    cached = request.get(REQUESTER)
    if cached is not None:
        return cached
    token = request.headers.get("CB-Token") or request.query.get("token")
    found = await request.app[services_key].sessions.resolve(token)
    request[REQUESTER] = found
    return found


async def user_requester(request: web.Request) -> Requester:
    """A session with a logged-in user."""
    found = await requester(request)
    if not found.is_user:
        raise ForbiddenError("A user session is required")
    return found
