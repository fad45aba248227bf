"""/chat/search: dialogs, messages and users matching a text, within the caller's dialogs."""
from __future__ import annotations

from aiohttp import web

from rest.auth import user_requester
from rest.keys import services_key
from rest.params import json_response, query_params
from rest.schemas.dialogs import dialog_to_json
from rest.schemas.messages import message_to_json
from rest.schemas.search import search_query
from rest.views.users import users_as_seen


async def search(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    found = await request.app[services_key].search.search(caller, search_query(query_params(request)))
    return json_response({"results": {
        "dialogs": [dialog_to_json(v) for v in found.dialogs],
        "messages": [message_to_json(m, caller.user_id) for m in found.messages],
        "users": await users_as_seen(request, caller, list(found.users)),
    }})
