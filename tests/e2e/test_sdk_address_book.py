"""The REAL `connectycube@6.1.2` SDK's `addressbook` against the REAL `chatbridge serve`: uploads
to a device's book and to the global one (rejections by index, rename, destroy, force), the books
as the SDK returns them, and the registered users it gets, compact and whole."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_address_book(sdk):
    r = sdk("address_book")
    digits, bob_phone = r["digits"], r["bobPhone"]
    assert r["deviceUpload"] == {"created": 2, "updated": 0, "deleted": 0, "rejected": {
        "1": ["Length of 'phone' field should be min: 10 and max: 15."]}}
    assert r["globalUpload"] == {"created": 1, "updated": 0, "deleted": 0, "rejected": {}}
    assert r["deviceBook"] == [{"name": "Bob", "phone": f"+1555{digits}"},
                               {"name": "Carol", "phone": f"+4420{digits}"}]
    assert r["globalBook"] == [{"name": "Bobby", "phone": bob_phone}]

    assert r["compact"] == {"items": [
        {"user": {"id": r["bobId"], "phone": bob_phone, "address_book_name": "Bob"}},
        {"user": {"id": r["carolId"], "phone": f"+44 20 {digits}", "address_book_name": "Carol"}}]}
    [bob] = r["full"]["items"]
    assert bob["user"]["id"] == r["bobId"] and bob["user"]["address_book_name"] == "Bobby"
    assert bob["user"]["full_name"] == "E2E abB" and "login" in bob["user"]

    assert r["renamed"] == {"created": 0, "updated": 1, "deleted": 0, "rejected": {}}
    assert r["destroyed"] == {"created": 0, "updated": 0, "deleted": 1, "rejected": {}}
    assert r["forced"] == {"created": 0, "updated": 0, "deleted": 2, "rejected": {}}
    assert r["deviceAfter"] == []
    assert r["tooLong"] == {"code": 422, "info": {"errors": {"udid": [
        "is too long (maximum is 64 characters)"]}}}
