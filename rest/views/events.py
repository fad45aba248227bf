"""/events: push notifications sent by a user to other users of the application."""
from __future__ import annotations

from aiohttp import web

from models.errors import InvalidError
from rest.auth import user_requester
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.events import event_draft, event_to_json


async def create_event(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    body = await body_params(request)
    if "event" not in body:
        raise InvalidError("can't be blank", field="event")
    event = await request.app[services_key].push_events.create(caller, event_draft(body["event"]))
    return json_response([event_to_json(event)], status=201)
