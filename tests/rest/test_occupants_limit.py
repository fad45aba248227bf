"""`occupants_limit` of group and public dialogs: set on create or update (admins), at most the
global maximum, shown on the Dialog, and held on every add and subscribe with a clear 422."""
from __future__ import annotations

import pytest

from models.services.access import BROADCAST, GROUP, PRIVATE, PUBLIC
from tests.rest.admin_helpers import admin_call, admin_keys
from tests.rest.test_dialogs import create, guest, put


@pytest.fixture
def settings(settings):
    settings.limits.max_occupants = 6
    return settings


@pytest.fixture
async def people(api):
    return [await guest(api, f"user{n}") for n in range(6)]


def ids(*users) -> str:
    return ", ".join(str(u["id"]) for u in users)


async def post_dialog(api, who, **body):
    return await api.call("POST", "/chat/Dialog.json", who["token"], json=body)


async def test_a_group_holds_its_limit_on_create_and_on_every_add(api, people):
    owner, a, b, c, d, _ = people
    status, body = await post_dialog(api, owner, type=GROUP, name="T",
                                     occupants_ids=ids(a, b, c), occupants_limit=3)
    assert status == 422 and body == {"errors": {"occupants_ids": [
        "too many occupants (the dialog's limit is 3)"]}}
    dialog = await create(api, owner, type=GROUP, name="T", occupants_ids=ids(a), occupants_limit="3")
    assert dialog["occupants_limit"] == 3
    status, body = await put(api, a, dialog["_id"], {"push_all": {"occupants_ids": [b["id"], c["id"]]}})
    assert status == 422 and body == {"errors": {"occupants_ids": [
        "the dialog is full (maximum is 3 occupants)"]}}
    status, body = await put(api, a, dialog["_id"], {"push_all": {"occupants_ids": [b["id"]]}})
    assert status == 200 and len(body["occupants_ids"]) == 3
    status, body = await put(api, a, dialog["_id"], {"push_all": {"occupants_ids": [c["id"]]}})
    assert status == 422
    # only admins change it; never below the occupants there are, never above the maximum
    status, _ = await put(api, a, dialog["_id"], {"occupants_limit": 5})
    assert status == 403
    status, body = await put(api, owner, dialog["_id"], {"occupants_limit": 2})
    assert status == 422 and body == {"errors": {"occupants_limit": [
        "is less than the dialog's 3 occupants"]}}
    status, body = await put(api, owner, dialog["_id"], {"occupants_limit": 7})
    assert status == 422 and body == {"errors": {"occupants_limit": ["must be at most 6"]}}
    status, body = await put(api, owner, dialog["_id"], {"occupants_limit": 4})
    assert status == 200 and body["occupants_limit"] == 4
    status, body = await put(api, owner, dialog["_id"], {"occupants_limit": 4,
                                                         "push_all": {"occupants_ids": [c["id"]]}})
    assert status == 200 and len(body["occupants_ids"]) == 4
    # null: back to the global maximum (and the field is gone)
    status, body = await put(api, owner, dialog["_id"], {"occupants_limit": None,
                                                         "push_all": {"occupants_ids": [d["id"]]}})
    assert status == 200 and "occupants_limit" not in body and len(body["occupants_ids"]) == 5


async def test_a_public_dialog_holds_its_limit_on_subscribe(api, people):
    owner, a, b, *_ = people
    dialog = await create(api, owner, type=PUBLIC, name="P", occupants_limit=2)
    assert dialog["occupants_limit"] == 2
    path = f"/chat/Dialog/{dialog['_id']}/subscribe.json"
    assert (await api.call("POST", path, a["token"]))[0] == 200
    status, body = await api.call("POST", path, b["token"])
    assert status == 422 and body == {"errors": {"base": ["the dialog is full (maximum is 2 occupants)"]}}
    status, body = await put(api, owner, dialog["_id"], {"occupants_limit": 1})
    assert status == 422 and "occupants_limit" in body["errors"]
    assert (await api.call("DELETE", path, a["token"]))[0] == 200
    assert (await api.call("POST", path, b["token"]))[0] == 200


async def test_the_limit_is_for_group_and_public_dialogs_and_a_positive_number(api, people):
    owner, a, *_ = people
    for dtype, extra in ((PRIVATE, {"occupants_ids": ids(a)}), (BROADCAST, {"name": "B"})):
        status, body = await post_dialog(api, owner, type=dtype, occupants_limit=3, **extra)
        assert status == 422 and list(body["errors"]) == ["occupants_limit"], body
    for bad in (0, -1, "x", True, 7):
        status, body = await post_dialog(api, owner, type=GROUP, name="T", occupants_limit=bad)
        assert status == 422 and list(body["errors"]) == ["occupants_limit"], (bad, body)
    broadcast = await create(api, owner, type=BROADCAST, name="B")
    status, body = await put(api, owner, broadcast["_id"], {"occupants_limit": 3})
    assert status == 422 and list(body["errors"]) == ["occupants_limit"]


async def test_the_admin_api_is_held_to_the_limit_too(api, people, services, settings):
    owner, a, b, *_ = people
    dialog = await create(api, owner, type=GROUP, name="T", occupants_ids=ids(a), occupants_limit=2)
    keys = await admin_keys(services, settings)
    status, body = await admin_call(api, keys[1], "PUT", f"/admin/chat/{dialog['_id']}",
                                    json={"push_all": {"occupants_ids": [b["id"]]}})
    assert status == 422 and "occupants_ids" in body["errors"]
    status, body = await admin_call(api, keys[1], "PUT", f"/admin/chat/{dialog['_id']}",
                                    json={"occupants_limit": 3, "push_all": {"occupants_ids": [b["id"]]}})
    assert status == 200 and body["occupants_limit"] == 3 and len(body["occupants_ids"]) == 3
