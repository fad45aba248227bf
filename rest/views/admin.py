"""The admin API (`CB-Administration-API-Key`; docs/admin-api.md): every dialog and message of the
application, dialog changes, user deletes and lists (ConnectyCube's Admin API), and messages sent,
edited and deleted as a given user. Rules live in `AdminService`; this module reads the request
and shapes the answer. Statistics: rest/views/admin_stats.py."""
from __future__ import annotations

from aiohttp import web

from models.messages import draft_from_params
from rest.auth import admin_requester
from rest.keys import services_key
from rest.params import all_params, body_params, json_response
from rest.schemas.admin import (acting_user, admin_dialog_change, admin_dialog_to_json,
                                admin_message_to_json, dialog_list_query, message_edit,
                                message_list_query, sender)
from rest.schemas.messages import message_to_json
from rest.schemas.users import user_id_from_path, user_query, user_to_json


def _page(page, items) -> web.Response:
    return json_response({"total_entries": page.total, "skip": page.skip, "limit": page.limit,
                          "items": items})


async def update_dialog(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    services = request.app[services_key]
    change = admin_dialog_change(await body_params(request),
                                 services.settings.limits.max_ids_per_request)
    entry = await services.admin.update_dialog(caller, request.match_info["dialog_id"], change)
    return json_response(admin_dialog_to_json(entry))


async def list_dialogs(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    services = request.app[services_key]
    query = dialog_list_query(await all_params(request), services.settings.limits.max_list_limit)
    page = await services.admin.list_dialogs(caller, query)
    return _page(page, [admin_dialog_to_json(entry) for entry in page.items])


async def list_messages(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    services = request.app[services_key]
    query = message_list_query(await all_params(request), services.settings.limits.max_list_limit)
    page = await services.admin.list_messages(caller, query)
    return _page(page, [admin_message_to_json(doc) for doc in page.items])


async def create_message(request: web.Request) -> web.Response:
    """`sender_id` and the usual `POST /chat/Message` fields."""
    caller = await admin_requester(request)
    params = await body_params(request)
    sender_id = sender(params)
    draft = draft_from_params({k: v for k, v in params.items() if k != "sender_id"})
    doc = await request.app[services_key].admin.send(caller, sender_id, draft)
    return json_response(message_to_json(doc, sender_id), status=201)


async def update_message(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    body, user_id = message_edit(await body_params(request))
    doc = await request.app[services_key].admin.edit(caller, request.match_info["message_id"],
                                                     body, user_id)
    return json_response(admin_message_to_json(doc))


async def delete_message(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    user_id = acting_user(await all_params(request))
    await request.app[services_key].admin.delete_message(caller, request.match_info["message_id"],
                                                         user_id)
    return json_response({"success": True})


async def list_users(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    services = request.app[services_key]
    query = user_query(await all_params(request), services.settings.limits.max_list_limit)
    users, total, skip, limit = await services.admin.list_users(caller, query)
    return json_response({"limit": limit, "skip": skip, "total_entries": total,
                          "items": [user_to_json(u) for u in users]})


async def delete_user(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    user_id = user_id_from_path(request.match_info["user_id"])
    await request.app[services_key].admin.delete_user(caller, user_id)
    return json_response({"success": True})
