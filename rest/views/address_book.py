"""/address_book: upload, read, and the registered users of a user's address book (ConnectyCube's
Address Book API, the SDK's `addressbook`). The rules are `AddressBookService`'s
(models/services/address_book.py); the routes are in rest/routes.py."""
from __future__ import annotations

from aiohttp import web

from rest.auth import user_requester
from rest.keys import services_key
from rest.params import body_params, json_response, query_params
from rest.schemas.address_book import (address_book_upload, compact_flag, contact_to_json,
                                       registered_user_to_json, upload_result_to_json)


async def upload_address_book(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    upload = address_book_upload(await body_params(request))
    result = await request.app[services_key].address_book.upload(caller, upload)
    return json_response(upload_result_to_json(result))


async def get_address_book(request: web.Request) -> web.Response:
    """A bare array of `{name, phone}`, as the SDK expects."""
    caller = await user_requester(request)
    contacts = await request.app[services_key].address_book.contacts(
        caller, query_params(request).get("udid"))
    return json_response([contact_to_json(c) for c in contacts])


async def registered_users(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    params = query_params(request)
    compact = compact_flag(params)
    found = await request.app[services_key].address_book.registered_users(caller, params.get("udid"))
    return json_response({"items": [registered_user_to_json(r, compact) for r in found]})
