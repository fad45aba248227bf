"""/session and /login."""
from __future__ import annotations

from aiohttp import web

from rest.auth import requester
from rest.client_address import client_address
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.sessions import login_credentials, session_request
from rest.schemas.users import session_to_json, user_to_json


async def create_session(request: web.Request) -> web.Response:
    # A previous (possibly stale) CB-Token may be sent along: it is ignored on purpose.
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    session, user = await services.sessions.create(session_request(await body_params(request)), address)
    return json_response({"session": session_to_json(session, user)}, status=201)


async def get_session(request: web.Request) -> web.Response:
    services = request.app[services_key]
    caller = await requester(request)
    session = await services.sessions.get(caller)
    user = await services.users.get_entity(caller.app_id, caller.user_id) if caller.is_user else None
    return json_response({"session": session_to_json(session, user)})


async def destroy_session(request: web.Request) -> web.Response:
    caller = await requester(request)
    await request.app[services_key].sessions.destroy(caller)
    return json_response({})


async def login(request: web.Request) -> web.Response:
    caller = await requester(request)
    credentials = login_credentials(await body_params(request))
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    user = await services.sessions.login(caller, credentials, address)
    return json_response({"user": user_to_json(user)}, status=202)


async def logout(request: web.Request) -> web.Response:
    caller = await requester(request)
    await request.app[services_key].sessions.logout(caller)
    return json_response({})
