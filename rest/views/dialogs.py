"""/chat/Dialog: list, create, update, delete, admins, notifications, subscribe, public occupants,
clear history (ConnectyCube's Chat Dialog API; the routes are in rest/routes.py)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from models.dialogs import DialogView
from models.lax import parse_flag
from rest.auth import user_requester
from rest.keys import services_key
from rest.params import all_params, body_params, ids_from_path, json_response, query_params
from rest.schemas.dialogs import (admin_changes, delete_result_to_json, dialog_changes,
                                  dialog_query, dialog_draft, dialog_to_json, member_flag,
                                  notifications_flag)
from rest.schemas.filters import page_params
from rest.views.users import users_as_seen


def _json(view: DialogView) -> dict[str, Any]:
    return dialog_to_json(view)


def _flag(params: dict[str, Any], name: str) -> bool:
    """`force=1`, `count=1` (also `true` / `0` / `false`); anything else is a 422 naming it."""
    return parse_flag(params.get(name), name)


async def list_dialogs(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    params = await all_params(request)  # the seed's filters come as a GET form body too
    services = request.app[services_key]
    dialogs = services.dialogs
    query = dialog_query(params, services.settings.limits.max_list_limit)
    if query.count_only:
        return json_response({"items_count": await dialogs.count(caller, query)})
    page = await dialogs.list(caller, query)
    return json_response({"total_entries": page.total, "skip": page.skip, "limit": page.limit,
                          "items": [_json(v) for v in page.items]})


async def create_dialog(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    limits = services.settings.limits
    draft = dialog_draft(await body_params(request), limits.max_occupants, limits.max_admins)
    view, created = await services.dialogs.create(caller, draft)
    return json_response(_json(view), status=201 if created else 200)


async def update_dialog(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    change = dialog_changes(await body_params(request), services.settings.limits.max_ids_per_request)
    view = await services.dialogs.update(caller, request.match_info["dialog_id"], change)
    return json_response(_json(view))


async def delete_dialogs(request: web.Request) -> web.Response:
    services = request.app[services_key]
    caller = await user_requester(request)
    ids = ids_from_path(request, "ids", services.settings.limits.max_ids_per_request)
    force = _flag(await all_params(request), "force")
    result = await services.dialogs.delete(caller, ids, force)
    return json_response(delete_result_to_json(result.deleted, result.not_found,
                                               result.wrong_permissions))


async def update_admins(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    admins = admin_changes(await body_params(request), services.settings.limits.max_ids_per_request)
    view = await services.dialogs.update_admins(caller, request.match_info["dialog_id"], admins)
    return json_response(_json(view))


async def get_notifications(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    enabled = await request.app[services_key].memberships.notifications(
        caller, request.match_info["dialog_id"])
    return json_response({"notifications": {"enabled": int(enabled)}})


async def update_notifications(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    body = await body_params(request)
    enabled = await request.app[services_key].memberships.set_notifications(
        caller, request.match_info["dialog_id"], notifications_flag(body))
    return json_response({"notifications": {"enabled": int(enabled)}})


async def archive_dialog(request: web.Request) -> web.Response:
    """`PUT /chat/Dialog/{id}/archive` `{"archived": 1|0}`: the dialog as the caller sees it."""
    caller = await user_requester(request)
    services = request.app[services_key]
    archived = member_flag(await body_params(request), "archived")
    dialog = await services.memberships.archive(caller, request.match_info["dialog_id"], archived)
    return json_response(_json(await services.dialogs.view(caller, dialog)))


async def hide_dialog(request: web.Request) -> web.Response:
    """`PUT /chat/Dialog/{id}/hidden` `{"hidden": 1|0}`: the dialog as the caller sees it."""
    caller = await user_requester(request)
    services = request.app[services_key]
    hidden = member_flag(await body_params(request), "hidden")
    dialog = await services.memberships.set_hidden(caller, request.match_info["dialog_id"], hidden)
    return json_response(_json(await services.dialogs.view(caller, dialog)))


async def subscribe(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    dialog = await services.memberships.subscribe(caller, request.match_info["dialog_id"])
    view = await services.dialogs.view(caller, dialog)
    return json_response(_json(view))


async def unsubscribe(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    await request.app[services_key].memberships.unsubscribe(caller, request.match_info["dialog_id"])
    return json_response({})


async def public_occupants(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    skip, limit = page_params(query_params(request), 100, services.settings.limits.max_list_limit)
    users, skip, limit = await services.dialogs.occupants(caller, request.match_info["dialog_id"],
                                                          skip, limit)
    return json_response({"skip": skip, "limit": limit,
                          "items": await users_as_seen(request, caller, users)})


async def clear_history(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    force = _flag(await all_params(request), "force")
    await request.app[services_key].memberships.clear_history(
        caller, request.match_info["dialog_id"], force)
    return json_response({})
