"""The operators' routes (docs/admin-api.md "Operators"): applications and their keys (the
operator key only), user imports and deletes and history exports of one application (its admin
key or the operator key). `chatbridge apps|users|export` call them next to a `chatbridge serve`
on the embedded store; the rules are `OperatorService`'s, which the CLI calls directly on MongoDB."""
from __future__ import annotations

import orjson
from aiohttp import web

from models.errors import InvalidError, NotFoundError
from models.lax import cast_int
from rest.auth import app_admin_or_operator, operator_requester
from rest.keys import services_key
from rest.params import all_params, body_params, json_response
from rest.schemas.admin import admin_message_to_json
from rest.schemas.operations import (app_keys_to_json, app_to_json, import_results_to_json,
                                     import_rows)
from rest.schemas.users import user_id_from_path


def _app_id(request: web.Request) -> int:
    try:
        return cast_int(request.match_info["app_id"])
    except (ValueError, TypeError) as exc:
        raise NotFoundError("Application not found") from exc


async def list_apps(request: web.Request) -> web.Response:
    await operator_requester(request)
    apps = await request.app[services_key].operations.list_apps()
    return json_response({"items": [app_to_json(app) for app in apps]})


async def create_app(request: web.Request) -> web.Response:
    """`{"title": ..., "id": optional}` → the application and its keys, shown once."""
    await operator_requester(request)
    params = await body_params(request)
    title = params.get("title")
    if not isinstance(title, str):
        raise InvalidError("can't be blank", field="title")
    app_id = params.get("id")
    if app_id not in (None, ""):
        try:
            app_id = cast_int(app_id)
        except (ValueError, TypeError) as exc:
            raise InvalidError("must be a number", field="id") from exc
    keys = await request.app[services_key].operations.create_app(title, app_id or None)
    return json_response(app_keys_to_json(keys), status=201)


async def get_app(request: web.Request) -> web.Response:
    await operator_requester(request)
    app = await request.app[services_key].operations.show_app(_app_id(request))
    return json_response(app_to_json(app))


async def rotate_keys(request: web.Request) -> web.Response:
    """`{"auth": 1}` also replaces the auth key and secret."""
    await operator_requester(request)
    params = await all_params(request)
    auth = str(params.get("auth", "")).lower() in ("1", "true")
    keys = await request.app[services_key].operations.rotate_keys(_app_id(request), auth)
    return json_response(app_keys_to_json(keys))


async def import_users(request: web.Request) -> web.Response:
    app_id = _app_id(request)
    await app_admin_or_operator(request, app_id)
    rows = import_rows(await body_params(request))
    results = await request.app[services_key].operations.import_users(app_id, rows)
    return json_response(import_results_to_json(results))


async def delete_user(request: web.Request) -> web.Response:
    app_id = _app_id(request)
    await app_admin_or_operator(request, app_id)
    user_id = user_id_from_path(request.match_info["user_id"])
    await request.app[services_key].operations.delete_user(app_id, user_id)
    return json_response({"success": True})


async def export_messages(request: web.Request) -> web.StreamResponse:
    """Every stored message (of `chat_dialog_id` when given), oldest first, one JSON object per
    line, streamed as the store pages them."""
    app_id = _app_id(request)
    await app_admin_or_operator(request, app_id)
    dialog_id = request.query.get("chat_dialog_id") or None
    messages = request.app[services_key].operations.export_messages(app_id, dialog_id)
    first = await anext(messages, None)  # errors (404) before the answer starts
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    while first is not None:
        await response.write(orjson.dumps(admin_message_to_json(first)) + b"\n")
        first = await anext(messages, None)
    await response.write_eof()
    return response
