"""/contacts: the caller's list, which is also their XMPP roster (models/services/contacts.py)."""
from __future__ import annotations

from aiohttp import web

from rest.auth import user_requester
from rest.keys import services_key
from rest.params import body_params, json_response
from rest.schemas.contacts import (add_result_to_json, contact_changes, contact_id_from_path,
                                   contact_ids, contact_list_to_json, contact_to_json)


async def list_contacts(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    contacts = await request.app[services_key].contacts.list(caller)
    return json_response(contact_list_to_json(contacts))


async def add_contacts(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    ids = contact_ids(await body_params(request))
    result = await request.app[services_key].contacts.add(caller, ids)
    return json_response(add_result_to_json(result))


async def update_contact(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    contact_id = contact_id_from_path(request.match_info["user_id"])
    changes = contact_changes(await body_params(request))
    view = await request.app[services_key].contacts.update(caller, contact_id, changes)
    return json_response({"contact": contact_to_json(view)})


async def delete_contact(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    contact_id = contact_id_from_path(request.match_info["user_id"])
    await request.app[services_key].contacts.remove(caller, contact_id)
    return web.Response(status=200)
