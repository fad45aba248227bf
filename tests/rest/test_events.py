"""/events: push events to users of the caller's application (jobs queued, nothing sent here)."""
from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr
from py_vapid import Vapid

from tests.rest.test_subscriptions import apns_body, web_token


@pytest.fixture
def settings(settings, tmp_path):
    vapid = Vapid()
    vapid.generate_keys()
    account = tmp_path / "sa.json"
    account.write_text("{}")  # configured (queueing needs no valid credentials)
    return settings.model_copy(update={"push": settings.push.model_copy(update={
        "webpush": settings.push.webpush.model_copy(
            update={"vapid_private_key": SecretStr(vapid.private_pem().decode())}),
        "fcm": settings.push.fcm.model_copy(update={"service_account_file": account}),
        "apns": settings.push.apns.model_copy(update={
            "key": SecretStr("k"), "key_id": "K", "team_id": "T", "topic": "com.example"}),
        "max_event_recipients": 5})})


def b64(payload) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.b64encode(text.encode()).decode()


async def _subscribed(api, login: str, channels=("apns", "gcm", "web"), environment="development"):
    user = await api.new_user(login)
    for channel in channels:
        if channel == "web":
            body = {"notification_channel": "web", "device": {"platform": "web", "udid": login},
                    "push_token": {**web_token(), "environment": environment}}
        elif channel == "gcm":
            body = {"notification_channel": "gcm", "device": {"platform": "android", "udid": login},
                    "push_token": {"environment": environment,
                                   "client_identification_sequence": f"fcm-{login}"}}
        else:
            body = apns_body(udid=login, token=(login.encode().hex() * 32)[:64], channel=channel)
            body["push_token"]["environment"] = environment
        status, answer = await api.call("POST", "/subscriptions.json", user["token"], json=body)
        assert status == 201, answer
    return user


async def _jobs(services):
    return await services.database.db["push_jobs"].find({}).sort("_id", 1).to_list(None)


async def test_universal_event_answers_sdk_shape_and_queues_per_device(api, services):
    sender = await api.new_user("sender")
    bob = await _subscribed(api, "bob", ("apns", "gcm", "web", "apns_voip"))
    message = b64({"message": "héllo", "ios_badge": 3, "friend_id": 51})
    status, body = await api.call("POST", "/events.json", sender["token"], json={"event": {
        "notification_type": "push", "environment": "development",
        "user": {"ids": f"{bob['id']}"}, "message": message}})
    assert status == 201
    event = body[0]["event"]
    assert event["message"] == message and event["user_id"] == sender["id"]
    assert event["application_id"] == 1 and event["environment"] == "development"
    assert event["event_type"] == "one_shot" and event["notification_channel"] == {"name": "universal"}
    assert isinstance(event["id"], int) and event["created_at"].endswith("Z")
    jobs = await _jobs(services)
    assert sorted(j["channel"] for j in jobs) == ["apns", "gcm", "web"]  # no VoIP without ios_voip
    n = jobs[0]["notification"]
    assert n["body"] == "héllo" and n["badge"] == 3 and n["data"] == {"friend_id": 51, "message": "héllo"}
    assert all(j["_id"] == f"e{event['id']}:{j['subscription_id']}" for j in jobs)


async def test_environment_and_push_type_select_subscriptions(api, services):
    sender = await api.new_user("sender")
    dev = await _subscribed(api, "dev", ("apns", "gcm"), "development")
    prod = await _subscribed(api, "prod", ("apns", "gcm"), "production")
    status, _ = await api.call("POST", "/events.json", sender["token"], json={"event": {
        "notification_type": "push", "environment": "production", "push_type": "gcm",
        "user": {"ids": [dev["id"], prod["id"]]}, "message": b64({"message": "x"})}})
    assert status == 201
    jobs = await _jobs(services)
    assert [(j["user_id"], j["channel"]) for j in jobs] == [(prod["id"], "gcm")]


async def test_ios_voip_routes_to_voip_subscriptions_when_there_are(api, services):
    sender = await api.new_user("sender")
    with_voip = await _subscribed(api, "withvoip", ("apns", "apns_voip"))
    without = await _subscribed(api, "without", ("apns",))
    status, _ = await api.call("POST", "/events.json", sender["token"], json={"event": {
        "notification_type": "push", "environment": "development",
        "user": {"ids": f"{with_voip['id']},{without['id']}"},
        "message": b64({"message": "call", "ios_voip": "1"})}})
    assert status == 201
    routed = {(j["user_id"], j["channel"]) for j in await _jobs(services)}
    assert routed == {(with_voip["id"], "apns_voip"), (without["id"], "apns")}


async def test_raw_payload_with_push_type_and_external_ids_and_tags(api, services):
    sender = await api.new_user("sender")
    tagged = await _subscribed(api, "tagged", ("apns",))
    await api.call("PUT", "/users.json", tagged["token"], json={"user": {"tag_list": "vip,beta",
                                                                          "external_user_id": 777}})
    raw = {"aps": {"alert": {"title": "Game Request", "body": "Bob wants to play"}, "badge": 5},
           "acme1": "bar"}
    for recipients in ({"user": {"tags": {"any": "vip"}}}, {"external_user": {"ids": "777"}}):
        status, body = await api.call("POST", "/events.json", sender["token"], json={"event": {
            "notification_type": "push", "environment": "development", "push_type": "apns",
            "message": "payload=" + b64(raw), **recipients}})
        assert status == 201 and body[0]["event"]["notification_channel"] == {"name": "apns"}
    jobs = await _jobs(services)
    assert len(jobs) == 2 and all(j["notification"]["raw"] == raw for j in jobs)


async def test_only_users_of_the_callers_app_and_limits(api, services):
    sender = await api.new_user("sender")
    foreign = await api.new_user("foreign", app_id=2, auth_key="other-key")
    status, body = await api.call("POST", "/events.json", sender["token"], json={"event": {
        "notification_type": "push", "environment": "development",
        "user": {"ids": [foreign["id"]]}, "message": b64("hi")}})
    assert status == 201 and await _jobs(services) == []
    status, body = await api.call("POST", "/events.json", sender["token"], json={"event": {
        "notification_type": "push", "environment": "development",
        "user": {"ids": list(range(1, 8))}, "message": b64("hi")}})
    assert status == 422 and body == {"errors": {"user": ["too many recipients (maximum is 5)"]}}


async def test_validation_errors(api):
    sender = await api.new_user("sender")
    good = {"notification_type": "push", "environment": "development", "user": {"ids": "1"},
            "message": b64("hi")}
    cases = [
        ({**good, "notification_type": "email"}, "notification_type"),
        ({**good, "environment": "staging"}, "environment"),
        ({**good, "push_type": "sms"}, "push_type"),
        ({**good, "event_type": "fixed_date"}, "event_type"),
        ({**good, "message": "%%%"}, "message"),
        ({**good, "message": b64("x" * 5000)}, "message"),
        ({**good, "user": {"ids": "a,b"}}, "ids"),
        ({**good, "user": {}}, "user"),
        ({**good, "expiration": 1000}, "expiration"),
        ({**good, "push_type": "apns", "message": "payload=" + b64("[1]")}, "message"),
    ]
    for event, field in cases:
        status, body = await api.call("POST", "/events.json", sender["token"], json={"event": event})
        assert status == 422 and field in body["errors"], (event, body)
    status, body = await api.call("POST", "/events.json", sender["token"], json={"nothing": 1})
    assert status == 422 and "event" in body["errors"]
    status, _ = await api.call("POST", "/events.json", await api.app_token(), json={"event": good})
    assert status == 403
