"""/subscriptions: create (all channels, both channel spellings), re-subscribe, list, delete."""
from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

APNS_TOKEN = "98559c1f3028b3fa0ec811d058cef16be27fe2fc507ca243b3d4fab006bfc9b8"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def web_token(endpoint: str = "https://fcm.googleapis.com/fcm/send/abc:123") -> dict:
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"environment": "production", "web_endpoint": endpoint,
            "web_auth": _b64(os.urandom(16)), "web_p256dh": _b64(key)}


def apns_body(udid: str = "BFE36393-24E4-7689-AF85-428F4A5F2ED9", token: str = APNS_TOKEN,
              channel: str = "apns") -> dict:
    return {"notification_channel": channel,
            "push_token": {"environment": "development", "client_identification_sequence": token},
            "device": {"platform": "ios", "udid": udid}}


async def test_create_apns_answers_the_documented_array(api):
    user = await api.new_user("ios")
    status, body = await api.call("POST", "/subscriptions.json", user["token"], json=apns_body())
    assert status == 201
    assert body == [{"subscription": {
        "id": body[0]["subscription"]["id"], "notification_channel": {"name": "apns"},
        "device": {"udid": "BFE36393-24E4-7689-AF85-428F4A5F2ED9", "platform": {"name": "ios"}}}}]
    status, listed = await api.call("GET", "/subscriptions.json", user["token"])
    assert status == 200 and listed == body


async def test_plural_channels_web_and_gcm(api, services):
    user = await api.new_user("multi")
    status, body = await api.call("POST", "/subscriptions", user["token"], json={
        "notification_channels": "web", "device": {"platform": "web", "udid": "browser-1"},
        "push_token": web_token()})
    assert status == 201 and body[0]["subscription"]["notification_channel"] == {"name": "web"}
    status, body = await api.call("POST", "/subscriptions", user["token"], json={
        "notification_channel": "gcm", "device": {"platform": "android", "udid": "pixel"},
        "push_token": {"environment": "production", "client_identification_sequence": "fcm:tok-1"}})
    assert status == 201
    docs = await services.database.db["push_subscriptions"].find({"user_id": user["id"]}).to_list(None)
    by_channel = {d["channel"]: d for d in docs}
    assert by_channel["gcm"]["token"] == "fcm:tok-1" and by_channel["gcm"]["web"] is None
    assert by_channel["web"]["web"]["endpoint"].startswith("https://fcm.googleapis.com/")
    assert by_channel["web"]["token"] is None


async def test_resubscribing_a_device_replaces_its_token(api, services):
    user = await api.new_user("resub")
    _, first = await api.call("POST", "/subscriptions.json", user["token"], json=apns_body(token="aa" * 32))
    _, second = await api.call("POST", "/subscriptions.json", user["token"], json=apns_body(token="bb" * 32))
    assert first[0]["subscription"]["id"] == second[0]["subscription"]["id"]
    docs = await services.database.db["push_subscriptions"].find({"user_id": user["id"]}).to_list(None)
    assert [d["token"] for d in docs] == ["bb" * 32]

    # another user logs in on the same device: the device now belongs to them
    other = await api.new_user("resub2")
    _, third = await api.call("POST", "/subscriptions.json", other["token"], json=apns_body(token="bb" * 32))
    assert third[0]["subscription"]["id"] == first[0]["subscription"]["id"]
    assert (await api.call("GET", "/subscriptions.json", user["token"]))[1] == []
    # the same token under a new udid moves too, never duplicated
    _, fourth = await api.call("POST", "/subscriptions.json", other["token"],
                               json=apns_body(udid="NEW-UDID", token="bb" * 32))
    listed = (await api.call("GET", "/subscriptions.json", other["token"]))[1]
    assert [s["subscription"]["id"] for s in listed] == [fourth[0]["subscription"]["id"]]


async def test_validation_errors_name_the_field(api):
    user = await api.new_user("bad")
    cases = [
        ({**apns_body(), "notification_channel": "sms"}, "notification_channel"),
        ({"device": {"platform": "ios", "udid": "x"}, "push_token": {}}, "notification_channel"),
        ({**apns_body(), "device": {"platform": "symbian", "udid": "x"}}, "platform"),
        ({**apns_body(), "device": {"platform": "ios"}}, "udid"),
        (apns_body(token="not-hex"), "client_identification_sequence"),
        ({**apns_body(), "push_token": {"client_identification_sequence": APNS_TOKEN}}, "environment"),
        ({"notification_channel": "web", "device": {"platform": "web", "udid": "w"},
          "push_token": web_token("http://fcm.googleapis.com/x")}, "web_endpoint"),
        ({"notification_channel": "web", "device": {"platform": "web", "udid": "w"},
          "push_token": web_token("https://169.254.169.254/latest")}, "web_endpoint"),
        ({"notification_channel": "web", "device": {"platform": "web", "udid": "w"},
          "push_token": {**web_token(), "web_p256dh": _b64(b"short")}}, "web_p256dh"),
        ({"notification_channel": "web", "device": {"platform": "web", "udid": "w"},
          "push_token": {**web_token(), "web_p256dh": _b64(b"\x04" + b"\x01" * 64)}}, "web_p256dh"),
        ({"notification_channel": "web", "device": {"platform": "web", "udid": "w"},
          "push_token": {**web_token(), "web_auth": "***"}}, "web_auth"),
    ]
    for body, field in cases:
        status, answer = await api.call("POST", "/subscriptions.json", user["token"], json=body)
        assert status == 422 and field in answer["errors"], (body, answer)
    status, answer = await api.call("POST", "/subscriptions.json", user["token"], data=b"{oops",
                                    headers={"Content-Type": "application/json"})
    assert status == 400 and answer == {"errors": {"base": ["Malformed JSON body"]}}


async def test_user_session_required(api):
    token = await api.app_token()
    status, body = await api.call("POST", "/subscriptions.json", token, json=apns_body())
    assert status == 403 and "errors" in body
    status, body = await api.call("GET", "/subscriptions.json")
    assert status == 401 and body == {"errors": {"base": ["Required session does not exist"]}}


async def test_delete_own_only(api):
    owner = await api.new_user("owner")
    intruder = await api.new_user("intruder")
    foreign = await api.new_user("foreign", app_id=2, auth_key="other-key")
    _, body = await api.call("POST", "/subscriptions.json", owner["token"], json=apns_body())
    sub_id = body[0]["subscription"]["id"]
    for token in (intruder["token"], foreign["token"]):
        status, answer = await api.call("DELETE", f"/subscriptions/{sub_id}.json", token)
        assert status == 404 and answer == {"errors": {"base": ["Subscription not found"]}}
    status, answer = await api.call("DELETE", "/subscriptions/abc.json", owner["token"])
    assert status == 404
    status, _ = await api.call("DELETE", f"/subscriptions/{sub_id}.json", owner["token"])
    assert status == 200
    assert (await api.call("GET", "/subscriptions.json", owner["token"]))[1] == []
    status, _ = await api.call("DELETE", f"/subscriptions/{sub_id}", owner["token"])
    assert status == 404


async def test_devices_per_user_are_capped(api, services):
    services.settings.push.max_subscriptions_per_user = 3
    try:
        user = await api.new_user("many")
        ids = []
        for i in range(5):
            _, body = await api.call("POST", "/subscriptions.json", user["token"],
                                     json=apns_body(udid=f"d{i}", token=f"{i:02d}" * 32))
            ids.append(body[0]["subscription"]["id"])
        listed = (await api.call("GET", "/subscriptions.json", user["token"]))[1]
        assert [s["subscription"]["id"] for s in listed] == ids[2:]  # the oldest went
    finally:
        services.settings.push.max_subscriptions_per_user = 20
