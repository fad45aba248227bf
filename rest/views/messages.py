"""/chat/Message: history, create, read/delivered marks and edits, deletes, unread counts and
system messages. Business rules live in `MessageService`; this module only reads the request and
shapes the answer."""
from __future__ import annotations

from aiohttp import web

from models.errors import InvalidError
from models.feed import Tombstone
from models.lax import cast_bool
from rest.auth import user_requester
from rest.keys import services_key
from rest.params import all_params, body_params, ids_from_path, json_response
from rest.schemas.messages import (CreateMessageBody, HistoryParams, SystemMessageBody,
                                   UpdateMessagesParams, delete_result_to_json, message_to_json,
                                   unread_dialog_ids)
from rest.schemas.feed import tombstone_to_json


async def list_messages(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    params = dict(await all_params(request))
    include_deleted = params.pop("include_deleted", None)  # not a filter on a custom key
    try:
        include_deleted = cast_bool(include_deleted) if include_deleted not in (None, "") else False
    except (TypeError, ValueError) as exc:
        raise InvalidError("must be 0 or 1", field="include_deleted") from exc
    query = HistoryParams.model_validate(params).to_command(services.settings.limits.max_list_limit)
    page = await services.messages.history(caller, query)
    if page.count is not None:
        return json_response({"items_count": page.count})
    if include_deleted:  # tombstones of messages deleted for everyone, in place
        items = await services.feed.with_tombstones(caller, query, page.items, page.limit)
        return json_response({"skip": page.skip, "limit": page.limit, "items": [
            tombstone_to_json(m) if isinstance(m, Tombstone) else message_to_json(m, caller.user_id)
            for m in items]})
    return json_response({"skip": page.skip, "limit": page.limit,
                          "items": [message_to_json(m, caller.user_id) for m in page.items]})


async def create_message(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    draft = CreateMessageBody.model_validate(await body_params(request)).to_command()
    message = await request.app[services_key].messages.send(caller, draft)
    return json_response(message_to_json(message, caller.user_id), status=201)


async def update_messages(request: web.Request) -> web.Response:
    """PUT /chat/Message/{ids} or PUT /chat/Message (all messages of `chat_dialog_id`)."""
    caller = await user_requester(request)
    services = request.app[services_key]
    ids = None
    if "ids" in request.match_info:
        ids = ids_from_path(request, "ids", services.settings.limits.max_ids_per_request)
    change = UpdateMessagesParams.model_validate(await all_params(request)).to_command(ids)
    await services.messages.update(caller, change)
    return json_response({})


async def delete_messages(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    ids = ids_from_path(request, "ids", services.settings.limits.max_ids_per_request)
    params = await all_params(request)
    force = params.get("force")
    try:
        force = cast_bool(force) if force not in (None, "") else False
    except ValueError as exc:
        raise InvalidError("must be 0 or 1", field="force") from exc
    result = await services.messages.delete(caller, ids, force)
    return json_response(delete_result_to_json(result))


async def unread_count(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    params = await all_params(request)
    counts = await request.app[services_key].receipts.unread_counts(caller, unread_dialog_ids(params))
    return json_response(counts)


async def create_system_message(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    draft = SystemMessageBody.model_validate(await body_params(request)).to_command()
    result = await request.app[services_key].system_messages.send(caller, draft)
    return json_response(result)
