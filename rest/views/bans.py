"""/chat/Dialog/{dialog_id}/block (also `/chat/dialog/...`, as ConnectyCube documents it): ban,
unban and list the users banned from a dialog. The rules are `BanService`'s
(models/services/bans.py); the routes are in rest/routes.py."""
from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from models.errors import BadRequestError, InvalidError
from models.lax import cast_int
from rest.auth import user_requester
from rest.keys import services_key
from rest.params import all_params, json_response, query_params
from rest.schemas.filters import page_params
from rest.schemas.users import user_to_json


def banned_user_id(value: Any) -> int:
    """The `user_id` of a ban request: a positive integer (also as a string)."""
    try:
        user_id = cast_int(value)
    except (TypeError, ValueError):
        user_id = 0
    if user_id <= 0:
        raise InvalidError("must be a user id", field="user_id")
    return user_id


async def _params(request: web.Request) -> dict[str, Any]:
    """The query and the body: JSON, or a form, or JSON sent as a form (`curl -d '{...}'`, as
    ConnectyCube's own examples do)."""
    raw = await request.read() if request.body_exists else b""
    if raw.lstrip().startswith(b"{") and request.content_type != "application/json":
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequestError("Malformed JSON body") from exc
        return {**query_params(request), **(body if isinstance(body, dict) else {})}
    return await all_params(request)


async def ban_user(request: web.Request) -> web.Response:
    """`{"user_id": N}`: 200 with an empty body, as ConnectyCube answers."""
    caller = await user_requester(request)
    user_id = banned_user_id((await _params(request)).get("user_id"))
    await request.app[services_key].bans.ban(caller, request.match_info["dialog_id"], user_id)
    return web.Response(status=200)


async def unban_user(request: web.Request) -> web.Response:
    """`user_id` in the body (JSON or a form, as DELETE bodies come) or in the query."""
    caller = await user_requester(request)
    user_id = banned_user_id((await _params(request)).get("user_id"))
    await request.app[services_key].bans.unban(caller, request.match_info["dialog_id"], user_id)
    return web.Response(status=200)


async def list_banned(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    skip, limit = page_params(query_params(request), 100, services.settings.limits.max_list_limit)
    users, skip, limit = await services.bans.banned(caller, request.match_info["dialog_id"],
                                                    skip, limit)
    return json_response({"skip": skip, "limit": limit, "items": [user_to_json(u) for u in users]})
