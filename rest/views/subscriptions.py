"""/subscriptions: a user's push subscriptions (create / list / delete)."""
from __future__ import annotations

from aiohttp import web

from rest.auth import user_requester
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.subscriptions import subscription_draft, subscription_id_from_path, subscription_to_json


async def create_subscription(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    draft = subscription_draft(await body_params(request))
    subs = await request.app[services_key].subscriptions.create(caller, draft)
    return json_response([subscription_to_json(s) for s in subs], status=201)


async def list_subscriptions(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    subs = await request.app[services_key].subscriptions.list(caller)
    return json_response([subscription_to_json(s) for s in subs])


async def delete_subscription(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    subscription_id = subscription_id_from_path(request.match_info["subscription_id"])
    await request.app[services_key].subscriptions.delete(caller, subscription_id)
    return web.Response(status=200)
