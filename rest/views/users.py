"""/users: sign-up, lookups, filtered lists, self update / delete, password reset."""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from models.errors import InvalidError, UnauthenticatedError
from models.services.filters import page_params, split_list
from rest.auth import requester, user_requester
from rest.keys import services_key
from rest.params import body_params, json_response, query_params
from rest.schemas.users import user_to_json

LEGACY_LOOKUPS = {
    "/users/by_login": "login",
    "/users/by_email": "email",
    "/users/by_full_name": "full_name",
    "/users/by_facebook_id": "facebook_id",
    "/users/by_twitter_id": "twitter_id",
    "/users/phone": "phone",
}


async def signup(request: web.Request) -> web.Response:
    services = request.app[services_key]
    if request.headers.get("CB-Token"):
        app_id = (await requester(request)).app_id
    elif request.headers.get("CB-AuthKey"):
        app_id = await services.sessions.check_auth_key(request.headers["CB-AuthKey"])
    else:
        raise UnauthenticatedError("Required session does not exist")
    body = await body_params(request)
    if "user" not in body:
        raise InvalidError("can't be blank", field="user")
    user = await services.users.signup(app_id, body["user"])
    return json_response({"user": user_to_json(user)}, status=201)


async def get_user(request: web.Request) -> web.Response:
    caller = await requester(request)
    user = await request.app[services_key].users.get(caller, request.match_info["user_id"])
    return json_response({"user": user_to_json(user)})


async def get_by_external_id(request: web.Request) -> web.Response:
    caller = await requester(request)
    user = await request.app[services_key].users.find_by(
        caller, "external_user_id", request.match_info["external_id"])
    return json_response({"user": user_to_json(user)})


def make_lookup(field: str):
    async def lookup(request: web.Request) -> web.Response:
        caller = await requester(request)
        params = query_params(request)
        if field == "full_name":  # a list, like the peers
            value = params.get("full_name")
            users, total, skip, limit = await request.app[services_key].users.list(
                caller, {**params, "full_name": {"ctn": value}} if value else params)
            return _legacy_page(users, total, skip, limit)
        user = await request.app[services_key].users.find_by(caller, field, params.get(field))
        return json_response({"user": user_to_json(user)})

    lookup.__name__ = f"get_user_by_{field}"
    return lookup


async def list_users(request: web.Request) -> web.Response:
    """GET /users/v2: {limit, skip, total_entries, items: [User]}."""
    caller = await requester(request)
    users, total, skip, limit = await request.app[services_key].users.list(caller, query_params(request))
    return json_response({"limit": limit, "skip": skip, "total_entries": total,
                          "items": [user_to_json(u) for u in users]})


_LEGACY_FILTER = re.compile(r"^\s*(\w+)\s+(\w+)\s+(\w+)\s+(.*)$")


async def list_users_legacy(request: web.Request) -> web.Response:
    """GET /users: `filter[]=number id in 1,2`, `order=asc string id`, `page`, `per_page`, `tags`."""
    caller = await requester(request)
    params = query_params(request)
    translated: dict[str, Any] = {k: v for k, v in params.items()
                                  if k in ("page", "per_page", "tags")}
    for item in split_list(params.get("filter")) if not isinstance(params.get("filter"), list) else params["filter"]:
        match = _LEGACY_FILTER.match(str(item))
        if not match:
            raise InvalidError("is invalid", field="filter")
        _, field, op, value = match.groups()
        translated[field] = {op: value} if op not in ("eq",) else value
    order = params.get("order")
    if isinstance(order, str) and order.split():
        parts = order.split()
        translated["sort_desc" if parts[0] == "desc" else "sort_asc"] = parts[-1]
    users, total, skip, limit = await request.app[services_key].users.list(caller, translated)
    return _legacy_page(users, total, skip, limit)


def _legacy_page(users, total: int, skip: int, limit: int) -> web.Response:
    return json_response({"current_page": skip // limit + 1 if limit else 1, "per_page": limit,
                          "total_entries": total,
                          "items": [{"user": user_to_json(u)} for u in users]})


async def update_user(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    body = await body_params(request)
    params = body.get("user", body)
    user = await request.app[services_key].users.update_self(
        caller, request.match_info.get("user_id"), params)
    return json_response({"user": user_to_json(user)})


async def delete_user(request: web.Request) -> web.Response:
    services = request.app[services_key]
    caller = await user_requester(request)
    await services.users.delete_self(caller, request.match_info.get("user_id"))
    await services.sessions.forget_user(caller.app_id, caller.user_id)
    return json_response({})


async def reset_password(request: web.Request) -> web.Response:
    caller = await requester(request)
    params = {**query_params(request), **await body_params(request)}
    await request.app[services_key].users.request_password_reset(caller.app_id, params.get("email"))
    return json_response({})


async def list_online(request: web.Request) -> web.Response:
    """GET /users/online: users connected to the chat now (`count=true` → `{"count": n}`)."""
    services = request.app[services_key]
    caller = await requester(request)
    params = query_params(request)
    ids = services.presence.online_ids(caller.app_id)
    if str(params.get("count", "")).lower() in ("1", "true"):
        return json_response({"count": len(ids)})
    skip, limit = page_params(params, 100, services.settings.limits.max_list_limit)
    users = await services.users.get_many(caller.app_id, ids[skip:skip + limit])
    return json_response({"users": [user_to_json(u) for u in sorted(users, key=lambda u: u.id)]})
