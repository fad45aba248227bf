"""The admin API's statistics on known data: messages by `date_sent` and dialogs by `created_at`,
in total and per UTC day, across day boundaries; windows are [start_date, end_date)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from models.services.access import BROADCAST, GROUP, PRIVATE
from tests.rest.admin_helpers import admin_call, admin_keys
from tests.rest.test_dialogs import create, guest

DAY = 86400
MARCH_1 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())


@pytest.fixture
async def keys(services, settings) -> dict[int, str]:
    return await admin_keys(services, settings)


async def test_messages_sent_total_and_per_day(api, keys):
    alice, bob = await guest(api, "alice"), await guest(api, "bob")
    xeno = await guest(api, "xeno", 2, "other-key")
    dialog = await create(api, alice, type=GROUP, name="T", occupants_ids=[bob["id"]])
    foreign = await create(api, xeno, type=GROUP, name="F", occupants_ids=[])
    times = [MARCH_1 - 1, MARCH_1, MARCH_1 + 1, MARCH_1 + DAY - 1, MARCH_1 + DAY, MARCH_1 + 5 * DAY]
    for at in times:
        status, _ = await api.call("POST", "/chat/Message.json", alice["token"], json={
            "chat_dialog_id": dialog["_id"], "message": "x", "date_sent": at})
        assert status == 201
    await api.call("POST", "/chat/Message.json", xeno["token"], json={
        "chat_dialog_id": foreign["_id"], "message": "x", "date_sent": MARCH_1})
    # not stored, not counted
    await api.call("POST", "/chat/Message.json", alice["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "x", "date_sent": MARCH_1, "save_to_history": 0})

    async def stats(path, **params):
        status, body = await admin_call(api, keys[1], "GET", f"/admin/stats/messages/{path}",
                                        params={k: str(v) for k, v in params.items()})
        assert status == 200, body
        return body

    assert await stats("sent-total") == {"total": 6}
    assert await stats("sent-total", start_date=MARCH_1, end_date=MARCH_1 + DAY) == {"total": 3}
    assert await stats("sent-total", start_date=MARCH_1 + DAY) == {"total": 2}
    assert await stats("sent-total", end_date=MARCH_1) == {"total": 1}
    assert await stats("sent-per-day") == {"2026-02-28": 1, "2026-03-01": 3, "2026-03-02": 1,
                                          "2026-03-06": 1}
    assert await stats("sent-per-day", start_date=MARCH_1, end_date=MARCH_1 + 2 * DAY) == \
        {"2026-03-01": 3, "2026-03-02": 1}
    assert await stats("sent-per-day", limit=2, offset=1) == {"2026-03-01": 3, "2026-03-02": 1}
    # the form body, as the reference's curl examples send it
    status, body = await admin_call(api, keys[1], "GET", "/admin/stats/messages/sent-total",
                                    data={"start_date": str(MARCH_1), "end_date": str(MARCH_1 + 1)})
    assert (status, body) == (200, {"total": 1})
    status, body = await admin_call(api, keys[2], "GET", "/admin/stats/messages/sent-per-day")
    assert body == {"2026-03-01": 1}


async def test_dialogs_created_total_and_per_day(api, services, clock, keys):
    alice, bob = await guest(api, "alice"), await guest(api, "bob")
    start = datetime(2026, 4, 10, 23, 59, 30, tzinfo=timezone.utc)
    clock._now = start
    await create(api, alice, type=GROUP, name="A", occupants_ids=[bob["id"]])      # 04-10
    clock.advance(30)
    await create(api, alice, type=BROADCAST, name="B", occupants_ids=[])           # 04-11 00:00
    await create(api, alice, type=PRIVATE, occupants_ids=[bob["id"]])              # 04-11
    clock.advance(2 * DAY)
    await create(api, bob, type=GROUP, name="C", occupants_ids=[alice["id"]])      # 04-13
    midnight = int(datetime(2026, 4, 11, tzinfo=timezone.utc).timestamp())

    async def stats(path, **params):
        status, body = await admin_call(api, keys[1], "GET", f"/admin/stats/dialogs/{path}",
                                        params=params)
        assert status == 200, body
        return body

    assert await stats("created-total") == {"total": 4}
    assert await stats("created-total", start_date=str(midnight)) == {"total": 3}
    assert await stats("created-total", end_date=str(midnight)) == {"total": 1}
    assert await stats("created-total", **{"types[]": ["1", "3"]}) == {"total": 2}
    assert await stats("created-total", types="2") == {"total": 2}
    assert await stats("created-per-day") == {"2026-04-10": 1, "2026-04-11": 2, "2026-04-13": 1}
    assert await stats("created-per-day", types="2", limit="1", offset="1") == {"2026-04-13": 1}
    assert await stats("created-per-day", start_date=str(midnight),
                       end_date=str(midnight + DAY)) == {"2026-04-11": 2}
    status, body = await admin_call(api, keys[2], "GET", "/admin/stats/dialogs/created-total")
    assert body == {"total": 0}


@pytest.mark.parametrize("params, field", [
    ({"start_date": "yesterday"}, "start_date"),
    ({"end_date": "-5"}, "end_date"),
    ({"start_date": "100", "end_date": "50"}, "end_date"),
    ({"types": "9"}, "types"),
    ({"types[]": "x"}, "types"),
    ({"limit": "x"}, "limit"),
    ({"offset": "-1"}, "offset"),
])
async def test_bad_statistics_parameters_are_422(api, keys, params, field):
    for path in ("messages/sent-total", "messages/sent-per-day", "dialogs/created-total",
                 "dialogs/created-per-day"):
        status, body = await admin_call(api, keys[1], "GET", f"/admin/stats/{path}", params=params)
        assert status == 422 and list(body["errors"]) == [field], (path, body)


async def test_statistics_need_the_key(api):
    status, body = await admin_call(api, None, "GET", "/admin/stats/messages/sent-total")
    assert status == 401 and body == {"errors": {"base": ["Unexpected admin API key"]}}
