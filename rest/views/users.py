"""/users: sign-up, lookups, filtered lists, self update / delete, password reset."""
from __future__ import annotations

from aiohttp import web

from models.errors import InvalidError, UnauthenticatedError
from models.lax import split_list
from models.requester import Requester
from models.users import LookupField, User
from rest.auth import requester, user_requester
from rest.client_address import client_address
from rest.keys import services_key
from rest.params import all_params, body_params, json_response, query_params
from rest.schemas.filters import page_params
from rest.schemas.users import (legacy_user_query, lookup_value, user_body, user_id_from_path,
                                user_query, user_to_json)

LEGACY_LOOKUPS: dict[str, LookupField | str] = {
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
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    user = await services.users.signup(app_id, user_body(body["user"]).to_draft(), address)
    return json_response({"user": user_to_json(user)}, status=201)


async def users_as_seen(request: web.Request, caller: Requester, users: list[User]) -> list[dict]:
    """Users as `caller` sees them: the last activity of those with a block between them and the
    caller, either way, is left out (one read of the block lists)."""
    hidden: set[int] = set()
    if caller.is_user and any(u.id != caller.user_id for u in users):
        hidden = await request.app[services_key].blocklist.related(
            caller.app_id, caller.user_id, [u.id for u in users])
    return [user_to_json(u, activity=u.id not in hidden) for u in users]


async def user_as_seen(request: web.Request, caller: Requester, user: User) -> dict:
    return (await users_as_seen(request, caller, [user]))[0]


async def get_user(request: web.Request) -> web.Response:
    caller = await requester(request)
    user_id = user_id_from_path(request.match_info["user_id"])
    user = await request.app[services_key].users.get(caller, user_id)
    return json_response({"user": await user_as_seen(request, caller, user)})


async def get_by_external_id(request: web.Request) -> web.Response:
    caller = await requester(request)
    value = lookup_value("external_user_id", request.match_info["external_id"])
    user = await request.app[services_key].users.find_by(caller, "external_user_id", value)
    return json_response({"user": await user_as_seen(request, caller, user)})


def make_lookup(field: LookupField | str):
    async def lookup(request: web.Request) -> web.Response:
        services = request.app[services_key]
        caller = await requester(request)
        params = query_params(request)
        if field == "full_name":  # a list, like the peers
            value = params.get("full_name")
            query = user_query({**params, "full_name": {"ctn": value}} if value else params,
                               services.settings.limits.max_list_limit)
            users, total, skip, limit = await services.users.list(caller, query)
            return await _legacy_page(request, caller, users, total, skip, limit)
        user = await services.users.find_by(caller, field, lookup_value(field, params.get(field)))
        return json_response({"user": await user_as_seen(request, caller, user)})

    lookup.__name__ = f"get_user_by_{field}"
    return lookup


async def list_users(request: web.Request) -> web.Response:
    """GET /users/v2: {limit, skip, total_entries, items: [User]}."""
    services = request.app[services_key]
    caller = await requester(request)
    query = user_query(query_params(request), services.settings.limits.max_list_limit)
    users, total, skip, limit = await services.users.list(caller, query)
    return json_response({"limit": limit, "skip": skip, "total_entries": total,
                          "items": await users_as_seen(request, caller, users)})


async def list_users_legacy(request: web.Request) -> web.Response:
    """GET /users: `filter[]=number id in 1,2`, `order=asc string id`, `page`, `per_page`, `tags`."""
    services = request.app[services_key]
    caller = await requester(request)
    query = legacy_user_query(query_params(request), services.settings.limits.max_list_limit)
    users, total, skip, limit = await services.users.list(caller, query)
    return await _legacy_page(request, caller, users, total, skip, limit)


async def list_users_by_tags(request: web.Request) -> web.Response:
    """GET /users/by_tags?tags[]=a&tags[]=b (the SDK's `users.get({tags})`): users with any of
    the tags, in the legacy page shape; `page` / `per_page` as `GET /users`."""
    services = request.app[services_key]
    caller = await requester(request)
    params = await all_params(request)
    tags = split_list(params.get("tags"))
    if not tags or not all(isinstance(tag, str) for tag in tags):
        raise InvalidError("can't be blank", field="tags")
    query = legacy_user_query({k: v for k, v in params.items() if k in ("page", "per_page")}
                              | {"tags": tags}, services.settings.limits.max_list_limit)
    users, total, skip, limit = await services.users.list(caller, query)
    return await _legacy_page(request, caller, users, total, skip, limit)


async def _legacy_page(request: web.Request, caller: Requester, users, total: int, skip: int,
                       limit: int) -> web.Response:
    return json_response({"current_page": skip // limit + 1 if limit else 1, "per_page": limit,
                          "total_entries": total,
                          "items": [{"user": u} for u in await users_as_seen(request, caller, users)]})


async def update_user(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    body = await body_params(request)
    user_id = user_id_from_path(request.match_info.get("user_id"))
    changes = user_body(body.get("user", body)).to_changes()
    services = request.app[services_key]
    user = await services.users.update_self(caller, user_id, changes)
    if changes.password not in (None, ""):  # the other sessions end (refresh tokens too)
        await services.sessions.password_changed(caller)
    return json_response({"user": user_to_json(user)})


async def delete_user(request: web.Request) -> web.Response:
    services = request.app[services_key]
    caller = await user_requester(request)
    await services.users.delete_self(caller, user_id_from_path(request.match_info.get("user_id")))
    await services.sessions.forget_user(caller.app_id, caller.user_id)
    await services.blocklist.forget_user(caller.app_id, caller.user_id)
    return json_response({})


async def reset_password(request: web.Request) -> web.Response:
    caller = await requester(request)
    params = {**query_params(request), **await body_params(request)}
    email = params.get("email")
    await request.app[services_key].users.request_password_reset(
        caller.app_id, email if isinstance(email, str) else None)
    return json_response({})


async def list_online(request: web.Request) -> web.Response:
    """GET /users/online: users connected to the chat now (`count=true` → `{"count": n}`)."""
    services = request.app[services_key]
    caller = await requester(request)
    params = query_params(request)
    ids = services.presence.online_ids(caller.app_id)
    if caller.is_user and ids:  # a blocked pair does not see each other's presence
        hidden = await services.blocklist.related(caller.app_id, caller.user_id, ids)
        ids = [u for u in ids if u not in hidden] if hidden else ids
    if str(params.get("count", "")).lower() in ("1", "true"):
        return json_response({"count": len(ids)})
    skip, limit = page_params(params, 100, services.settings.limits.max_list_limit)
    users = await services.users.get_many(caller.app_id, ids[skip:skip + limit])
    return json_response({"users": [user_to_json(u) for u in sorted(users, key=lambda u: u.id)]})
