"""/address_book through the production app, in the SDK's shapes: uploads (create, rename,
destroy, force, per-device books, rejections by index, limits), the book, and the registered
users matched by normalised phone (compact or whole profiles), per user and per application."""
from __future__ import annotations

import pytest

from models.address_book import normalize_phone, phone_digits
from tests.rest.test_openapi_answers import checked  # noqa: F401 - the fixture

LENGTH = "Length of 'phone' field should be min: 10 and max: 15."
NAME = "Length of 'name' field should be min: 1 and max: 255."


@pytest.fixture
def settings(settings):
    settings.limits.max_address_book_upload = 6
    settings.limits.max_address_book_contacts = 5
    return settings


async def upload(api, who, contacts, **extra):
    return await api.call("POST", "/address_book.json", who["token"],
                          json={"contacts": contacts, **extra})


async def book(api, who, udid=None):
    path = "/address_book.json" + (f"?udid={udid}" if udid is not None else "")
    status, body = await api.call("GET", path, who["token"])
    assert status == 200, body
    return body


@pytest.mark.parametrize("raw, stored", [
    ("+44 20 7946 0000", "+442079460000"), ("(555) 123-4567", "5551234567"),
    ("0044.20.7946.0000", "+442079460000"), (15551234567, "15551234567"),
    ("+1 555 123 45 67", "+15551234567")])
def test_phones_are_normalised(raw, stored):
    assert normalize_phone(raw) == stored
    assert phone_digits(raw) == stored.lstrip("+")


@pytest.mark.parametrize("raw", ["12345", "1234567890123456", "555-CALL-NOW", "+", "", None,
                                 True, ["5551234567"], "٥٥٥١٢٣٤٥٦٧٨"])
def test_what_is_not_a_phone(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)
    assert phone_digits(raw) is None


async def test_upload_create_rename_destroy_and_read(api, checked):  # noqa: F811
    alice = await api.new_user("abook1")
    status, body = await checked("POST", "/address_book.json", alice["token"], json={"contacts": [
        {"name": "Halldor", "phone": "+354 950 672 8854"}, {"name": "Lidija", "phone": "5309413409"}]})
    assert status == 200
    assert body == {"created": 2, "updated": 0, "deleted": 0, "rejected": {}}
    status, contacts = await checked("GET", "/address_book.json", alice["token"])
    assert contacts == [{"name": "Halldor", "phone": "+3549506728854"},
                        {"name": "Lidija", "phone": "5309413409"}]
    # the same phone written differently is the same contact; a new name renames it
    assert await upload(api, alice, [{"name": "Halldor K", "phone": "+354-950-672-8854"},
                                     {"name": "Lidija", "phone": "(530) 941-3409"},
                                     {"phone": "530 941 3409 ", "destroy": 1}]) == \
        (200, {"created": 0, "updated": 1, "deleted": 0,
               "rejected": {"2": ["The same phone is given more than once"]}})
    assert await upload(api, alice, [{"phone": "5309413409", "destroy": "1"},
                                     {"phone": "1112223333", "destroy": 1}]) == \
        (200, {"created": 0, "updated": 0, "deleted": 1, "rejected": {}})
    assert await book(api, alice) == [{"name": "Halldor K", "phone": "+3549506728854"}]


async def test_rejections_are_by_index_with_the_reason(api):
    alice = await api.new_user("abook2")
    status, body = await upload(api, alice, [
        {"name": "ok", "phone": "5550001111"}, "not an object", {"name": "short", "phone": "123"},
        {"name": "letters", "phone": "555-CALL-NOW"}, {"phone": "5550002222"},
        {"name": "x" * 256, "phone": "5550003333"}])
    assert status == 200
    assert body == {"created": 1, "updated": 0, "deleted": 0, "rejected": {
        "1": ["Invalid fields set"], "2": [LENGTH],
        "3": ["Invalid phone: digits only, with an optional leading '+'"], "4": [NAME], "5": [NAME]}}
    # a dict-shaped array (as some clients send arrays) is read as one
    status, body = await api.call("POST", "/address_book.json", alice["token"], json={
        "contacts": {"0": {"name": "dict", "phone": "5550004444"}}})
    assert (status, body["created"]) == (200, 1)


async def test_force_replaces_the_book_and_books_are_per_device(api):
    alice = await api.new_user("abook3")
    phone_1 = [{"name": "A", "phone": "5550000001"}, {"name": "B", "phone": "5550000002"}]
    assert (await upload(api, alice, phone_1, udid="phone-1"))[1]["created"] == 2
    assert (await upload(api, alice, [{"name": "G", "phone": "5550000009"}]))[1]["created"] == 1
    assert await book(api, alice, "phone-1") == phone_1
    assert await book(api, alice) == [{"name": "G", "phone": "5550000009"}]  # the global book
    assert await book(api, alice, "tablet") == []
    status, body = await upload(api, alice, [{"name": "B2", "phone": "5550000002"},
                                             {"name": "C", "phone": "5550000003"}],
                                udid="phone-1", force=1)
    assert body == {"created": 1, "updated": 1, "deleted": 1, "rejected": {}}
    assert await book(api, alice, "phone-1") == [{"name": "B2", "phone": "5550000002"},
                                                 {"name": "C", "phone": "5550000003"}]
    assert await book(api, alice) == [{"name": "G", "phone": "5550000009"}]
    assert await upload(api, alice, [], udid="phone-1", force=True) == \
        (200, {"created": 0, "updated": 0, "deleted": 2, "rejected": {}})


async def test_limits_per_upload_and_per_book(api):
    alice = await api.new_user("abook4")
    too_many = [{"name": str(n), "phone": f"55500000{n:02d}"} for n in range(7)]
    status, body = await upload(api, alice, too_many)
    assert (status, body) == (422, {"errors": {"contacts": [
        "too many contacts in one upload (maximum is 6)"]}})
    status, body = await upload(api, alice, too_many[:6])
    assert status == 200 and body["created"] == 5
    assert body["rejected"] == {"5": ["The address book is full (maximum is 5 contacts)"]}
    # a destroy makes room in the same upload; renames always go through
    status, body = await upload(api, alice, [{"phone": "5550000000", "destroy": 1},
                                             {"name": "new", "phone": "5550000077"},
                                             {"name": "renamed", "phone": "5550000001"}])
    assert body == {"created": 1, "updated": 1, "deleted": 1, "rejected": {}}
    for bad, field in (({"udid": "u" * 65}, "udid"), ({"force": "maybe"}, "force"),
                       ({"udid": {"a": 1}}, "udid")):
        status, body = await upload(api, alice, [], **bad)
        assert status == 422 and list(body["errors"]) == [field], body
    status, body = await api.call("POST", "/address_book.json", alice["token"],
                                  json={"contacts": "5550000000"})
    assert status == 422 and list(body["errors"]) == ["contacts"]
    status, _ = await api.call("GET", "/address_book.json?udid=" + "u" * 65, alice["token"])
    assert status == 422


async def test_registered_users_are_matched_by_phone(api, checked):  # noqa: F811
    alice = await api.new_user("abook5", phone="+1 (555) 010-2000")
    bob = await api.new_user("abook6", phone="15550102001", full_name="Bob B")
    carol = await api.new_user("abook7", phone="555 010 2002")
    xeno = await api.new_user("abook8", app_id=2, auth_key="other-key", phone="15550102001")
    dave = await api.new_user("abook9", phone="15550109999")  # not in the book
    status, _ = await upload(api, alice, [
        {"name": "Me", "phone": "15550102000"}, {"name": "Bobby", "phone": "+1 555 010 2001"},
        {"name": "Carol", "phone": "5550102002"}, {"name": "Nobody", "phone": "5550108888"}])
    assert status == 200
    status, body = await checked("GET", "/address_book/registered_users.json?compact=1",
                                 alice["token"])
    assert status == 200
    assert body == {"items": [
        {"user": {"id": bob["id"], "phone": "15550102001", "address_book_name": "Bobby"}},
        {"user": {"id": carol["id"], "phone": "555 010 2002", "address_book_name": "Carol"}}]}
    status, body = await checked("GET", "/address_book/registered_users.json", alice["token"])
    full = body["items"][0]["user"]
    assert full["id"] == bob["id"] and full["login"] == "abook6" and full["full_name"] == "Bob B"
    assert full["address_book_name"] == "Bobby"
    assert xeno["id"] not in [i["user"]["id"] for i in body["items"]]  # another application's
    # a user who changes or removes their phone is matched by the new one, or not at all
    status, _ = await api.call("PUT", f"/users/{carol['id']}.json", carol["token"],
                               json={"user": {"phone": "+1 555 010 9999"}})
    assert status == 200
    status, _ = await api.call("PUT", f"/users/{bob['id']}.json", bob["token"],
                               json={"user": {"phone": None}})
    assert status == 200
    status, body = await api.call("GET", "/address_book/registered_users.json?compact=1",
                                  alice["token"])
    assert body == {"items": []}
    # per device: the udid's book is the one checked
    await upload(api, alice, [{"name": "C", "phone": "15550109999"}], udid="tablet")
    status, body = await api.call("GET", "/address_book/registered_users.json?compact=1&udid=tablet",
                                  alice["token"])
    assert sorted((i["user"]["id"], i["user"]["address_book_name"]) for i in body["items"]) == \
        [(carol["id"], "C"), (dave["id"], "C")]


async def test_books_are_the_callers_own(api):
    alice, bob = await api.new_user("abook10"), await api.new_user("abook11")
    await upload(api, alice, [{"name": "Secret", "phone": "5550101010"}])
    await upload(api, alice, [{"name": "Secret", "phone": "5550101011"}], udid="bobs-device")
    assert await book(api, bob) == [] and await book(api, bob, "bobs-device") == []
    status, body = await api.call("GET", "/address_book/registered_users.json", bob["token"])
    assert body == {"items": []}
    app_token = await api.app_token()
    assert (await api.call("GET", "/address_book.json", app_token))[0] == 403  # no user
    assert (await api.call("GET", "/address_book.json"))[0] == 401


async def test_a_phone_with_or_without_its_plus_is_one_contact(api):
    alice = await api.new_user("abook12")
    assert (await upload(api, alice, [{"name": "Ann", "phone": "15550000001"}]))[1]["created"] == 1
    assert await upload(api, alice, [{"name": "Ann", "phone": "+1 555 000 0001"}]) == \
        (200, {"created": 0, "updated": 1, "deleted": 0, "rejected": {}})
    assert await book(api, alice) == [{"name": "Ann", "phone": "+15550000001"}]
    assert await upload(api, alice, [{"name": "Ann", "phone": "001 555 000 0001"}]) == \
        (200, {"created": 0, "updated": 0, "deleted": 0, "rejected": {}})


async def test_a_deleted_account_takes_its_address_books_along(api, services):
    alice = await api.new_user("abook13")
    await upload(api, alice, [{"name": "Ann", "phone": "15550000001"}])
    await upload(api, alice, [{"name": "Ann", "phone": "15550000001"}], udid="phone")
    assert (await api.call("DELETE", f"/users/{alice['id']}.json", alice["token"]))[0] == 200
    left = await services.database.db["address_book_contacts"].count_documents(
        {"user_id": alice["id"]})
    assert left == 0
