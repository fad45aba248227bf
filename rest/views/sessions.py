"""/session, /session/refresh, /login and /sessions (the caller's logins)."""
from __future__ import annotations

from aiohttp import web

from models.errors import NotFoundError
from rest.auth import requester, user_requester
from rest.client_address import client_address
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.sessions import (device_from, login_credentials, refresh_token_from,
                                   session_info_to_json, session_request)
from rest.schemas.users import session_to_json, user_to_json


async def create_session(request: web.Request) -> web.Response:
    # A previous (possibly stale) CB-Token may be sent along: it is ignored on purpose.
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    command = session_request(await body_params(request), request.headers.get("User-Agent"))
    session, user = await services.sessions.create(command, address)
    return json_response({"session": session_to_json(session, user)}, status=201)


async def refresh_session(request: web.Request) -> web.Response:
    """No `CB-Token` needed (one sent along is ignored): the refresh token is the credential."""
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    token = refresh_token_from(await body_params(request))
    session, user = await services.sessions.refresh(token, address)
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
    body = await body_params(request)
    credentials = login_credentials(body)
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    device = device_from(body, request.headers.get("User-Agent"))
    user = await services.sessions.login(caller, credentials, address, device)
    return json_response({"user": user_to_json(user)}, status=202)


async def logout(request: web.Request) -> web.Response:
    caller = await requester(request)
    await request.app[services_key].sessions.logout(caller)
    return json_response({})


async def list_sessions(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    infos = await request.app[services_key].sessions.list_sessions(caller)
    return json_response({"items": [session_info_to_json(info) for info in infos]})


async def end_session(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    try:
        session_id = int(request.match_info["session_id"])
    except ValueError:
        raise NotFoundError("Session not found") from None
    await request.app[services_key].sessions.end(caller, session_id)
    return json_response({})


async def end_other_sessions(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    ended = await request.app[services_key].sessions.end_others(caller)
    return json_response({"ended": ended})
