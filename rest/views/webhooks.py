"""Webhooks in the admin API (`/admin/webhooks…`, `CB-Administration-API-Key`, or the operator's key
with `?app_id=N` from loopback: `rest.auth.admin_or_operator_of`; docs/webhooks.md):
endpoints (create, list, read, change, delete, rotate the secret) and their deliveries (the
queue and the dead letters; redeliver one). Rules live in `WebhookService`
(models/services/webhooks.py); this module reads the request and shapes the answer."""
from __future__ import annotations

from aiohttp import web

from rest.auth import admin_or_operator_of
from rest.keys import services_key
from rest.params import all_params, body_params, json_response
from rest.schemas.filters import page_params
from rest.schemas.webhooks import (delivery_to_json, grace_seconds, webhook_changes, webhook_draft,
                                   webhook_id_from_path, webhook_to_json, webhook_with_secret)


def _webhook_id(request: web.Request) -> int:
    return webhook_id_from_path(request.match_info["webhook_id"])


async def create_webhook(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    draft = webhook_draft(await body_params(request))
    shown = await request.app[services_key].webhooks.create(caller, draft)
    return json_response(webhook_with_secret(shown), status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    hooks = await request.app[services_key].webhooks.list(caller)
    return json_response({"items": [webhook_to_json(h) for h in hooks]})


async def get_webhook(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    hook = await request.app[services_key].webhooks.get(caller, _webhook_id(request))
    return json_response(webhook_to_json(hook))


async def update_webhook(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    changes = webhook_changes(await body_params(request))
    hook = await request.app[services_key].webhooks.update(caller, _webhook_id(request), changes)
    return json_response(webhook_to_json(hook))


async def delete_webhook(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    await request.app[services_key].webhooks.delete(caller, _webhook_id(request))
    return json_response({"success": True})


async def rotate_secret(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    grace = grace_seconds(await body_params(request))
    shown = await request.app[services_key].webhooks.rotate_secret(caller, _webhook_id(request),
                                                                   grace)
    return json_response(webhook_with_secret(shown))


async def list_deliveries(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    services = request.app[services_key]
    params = await all_params(request)
    skip, limit = page_params(params, 100, services.settings.limits.max_list_limit)
    state = params.get("state") or None
    page = await services.webhooks.deliveries(caller, _webhook_id(request),
                                              None if state is None else str(state), skip, limit)
    return json_response({"total_entries": page.total, "skip": page.skip, "limit": page.limit,
                          "items": [delivery_to_json(d) for d in page.items]})


async def redeliver(request: web.Request) -> web.Response:
    caller = await admin_or_operator_of(request)
    delivery = await request.app[services_key].webhooks.redeliver(
        caller, _webhook_id(request), request.match_info["delivery_id"])
    return json_response(delivery_to_json(delivery))
