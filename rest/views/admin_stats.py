"""The admin API's statistics (`/admin/stats/...`; docs/admin-api.md): messages sent and dialogs
created, in total and per UTC day. Rules in `AdminStatsService`."""
from __future__ import annotations

from aiohttp import web

from rest.auth import admin_requester
from rest.keys import services_key
from rest.params import all_params, json_response
from rest.schemas.admin import stats_query


async def _query(request: web.Request):
    caller = await admin_requester(request)
    services = request.app[services_key]
    query = stats_query(await all_params(request), services.settings.limits.max_list_limit)
    return caller, services.admin_stats, query


async def messages_sent_total(request: web.Request) -> web.Response:
    caller, stats, query = await _query(request)
    return json_response({"total": await stats.messages_sent(caller, query)})


async def messages_sent_per_day(request: web.Request) -> web.Response:
    caller, stats, query = await _query(request)
    return json_response(await stats.messages_sent_per_day(caller, query))


async def dialogs_created_total(request: web.Request) -> web.Response:
    caller, stats, query = await _query(request)
    return json_response({"total": await stats.dialogs_created(caller, query)})


async def dialogs_created_per_day(request: web.Request) -> web.Response:
    caller, stats, query = await _query(request)
    return json_response(await stats.dialogs_created_per_day(caller, query))
