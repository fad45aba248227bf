"""/blocklist: the caller's block list (list / block / unblock). The same list XMPP clients read
and change (XEP-0191, the default privacy list), and what the services enforce (models/services/blocklist.py, docs/xmpp.md)."""
from __future__ import annotations

from aiohttp import web

from rest.auth import user_requester
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.blocklist import blocklist_to_json, user_id_from_path, user_ids_from_body


async def list_blocked(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    users = await services.blocklist.list(caller)
    return json_response(blocklist_to_json(users, services.settings.limits.max_blocked_users))


async def block_users(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    limits = services.settings.limits
    ids = user_ids_from_body(await body_params(request), max(limits.max_blocked_users, 1))
    await services.blocklist.block(caller, ids)
    users = await services.blocklist.list(caller)
    return json_response(blocklist_to_json(users, limits.max_blocked_users))


async def unblock_user(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    user_id = user_id_from_path(request.match_info["user_id"])
    await request.app[services_key].blocklist.unblock(caller, [user_id])
    return web.Response(status=200)
