"""/chat/Message/{id}/reactions: list and add/remove (one reaction type per user)."""
from __future__ import annotations

from aiohttp import web

from rest.auth import user_requester
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.reactions import ReactionsBody


async def list_reactions(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    reactions = await request.app[services_key].reactions.list(caller, request.match_info["id"])
    return json_response(reactions)


async def update_reactions(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    body = ReactionsBody.model_validate(await body_params(request))
    await request.app[services_key].reactions.update(caller, request.match_info["id"], *body.change())
    return json_response({})
