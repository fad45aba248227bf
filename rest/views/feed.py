"""GET /chat/events: the caller's event feed (models/services/feed.py)."""
from __future__ import annotations

from aiohttp import web

from models.errors import InvalidError
from models.lax import cast_int
from rest.auth import user_requester
from rest.keys import services_key
from rest.params import json_response, query_params
from rest.schemas.feed import feed_item_to_json


async def list_events(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    params = query_params(request)
    since = params.get("since")
    if since is not None and not isinstance(since, str):
        raise InvalidError("is not a feed cursor", field="since")
    limit = params.get("limit")
    if limit is not None:
        try:
            limit = cast_int(limit)
        except (TypeError, ValueError) as exc:
            raise InvalidError("must be a number", field="limit") from exc
    page = await request.app[services_key].feed.page(caller, since or None, limit)
    return json_response({"items": [feed_item_to_json(i) for i in page.items],
                          "next": str(page.next), "more": page.more})

