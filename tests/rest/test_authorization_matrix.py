"""The authorization matrix over every REST route (issue 17 §3, the REST part): the route table
(rest/routes.py) is walked, so a new route is in it without anyone adding it.

Columns: no credentials; an application session (no user); a user of another application,
aimed at application 1's objects. Rules checked on every cell: no 5xx; without credentials only
the public routes answer anything but 401; a user of another application gets exactly the
answer a missing object of the same kind gets (status and body, ids aside): no probing, no field
of the object. The table is kept in docs/reliability.md (`CHAT_UPDATE_DOCS=1` rewrites it;
otherwise the test checks it is current). The admin API's own matrix is
tests/rest/test_admin_apps.py; the XMPP side and the member / admin / owner / banned / blocked
columns are not in this table yet."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from rest.openapi import ADMIN, OPERATOR, PUBLIC, XMPP_AUTH, route_docs_key
from tests.conftest import AUTH_KEY

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
BEGIN, END = "<!-- authorization-matrix:begin -->", "<!-- authorization-matrix:end -->"
MISSING_HEX, MISSING_INT = "ffffffffffffffffffffffff", 987654

# bodies for routes whose answer depends on one (else an empty body is sent)
BODIES = {
    ("PUT", "/chat/Dialog/{dialog_id}"): {"name": "renamed"},
    ("PUT", "/chat/Dialog/{dialog_id}/admins"): {"push_all": {"admins_ids": [1]}},
    ("PUT", "/chat/Dialog/{dialog_id}/notifications"): {"enabled": 0},
    ("POST", "/chat/Dialog/{dialog_id}/block"): {"user_id": 1},
    ("DELETE", "/chat/Dialog/{dialog_id}/block"): {"user_id": 1},
    ("POST", "/chat/dialog/{dialog_id}/block"): {"user_id": 1},
    ("DELETE", "/chat/dialog/{dialog_id}/block"): {"user_id": 1},
    ("PUT", "/chat/Message/{ids}"): {"message": "edited"},
    ("PUT", "/chat/Message/{id}/reactions"): {"add": "👍"},
    ("PUT", "/contacts/{user_id}"): {"display_name": "x"},
    ("PUT", "/users/{user_id}"): {"user": {"full_name": "x"}},
    ("PUT", "/blobs/{key}"): {"blob": {"name": "x.png"}},
    ("POST", "/blobs/{key}/complete"): {"blob": {"size": 1}},
    ("PUT", "/blobs/{key}/complete"): {"blob": {"size": 1}},
}


@pytest.fixture
def settings(settings):
    """Every admin-key route is asked without a key, twice: more wrong keys than one address may
    send by default (which would answer 429 and hide the 401)."""
    settings.rate_limits.admin_failures_per_address = "1000/minute"
    return settings


def _kind(security) -> str:
    for known, name in ((PUBLIC, "public"), (ADMIN, "admin key"), (XMPP_AUTH, "XMPP Basic"),
                        (OPERATOR, "operator key")):
        if security == known:
            return name
    names = {name for requirement in security for name in requirement}
    if names <= {"CBToken", "CBTokenQuery", "CBAuthKey"}:
        return "session"
    return " or ".join(sorted(names))


async def _objects(api) -> dict[str, tuple[str, str]]:
    """Application 1's objects, by path parameter: (its id, the id of a missing one)."""
    alice, bob = await api.new_user(), await api.new_user()
    status, dialog = await api.call("POST", "/chat/Dialog.json", alice["token"],
                                    json={"type": 2, "name": "team", "occupants_ids": [bob["id"]]})
    assert status == 201, dialog
    status, message = await api.call("POST", "/chat/Message.json", alice["token"],
                                     json={"chat_dialog_id": dialog["_id"], "message": "hello"})
    assert status == 201, message
    status, blob = await api.call("POST", "/blobs.json", alice["token"], json={
        "blob": {"name": "a.png", "content_type": "image/png"}})
    assert status == 201, blob
    status, sessions = await api.call("GET", "/sessions.json", alice["token"])
    assert status == 200, sessions
    alice_session = sessions["items"][0]["id"]
    hex_missing = (MISSING_HEX, MISSING_HEX)
    return {"dialog_id": (dialog["_id"], MISSING_HEX), "ids@/chat/Dialog": (dialog["_id"], MISSING_HEX),
            "id": (message["_id"], MISSING_HEX), "ids@/chat/Message": (message["_id"], MISSING_HEX),
            "user_id": (str(bob["id"]), str(MISSING_INT)),
            "key": (str(blob["blob"]["id"]), str(MISSING_INT)), "uid": (blob["blob"]["uid"], MISSING_HEX),
            "subscription_id": (str(MISSING_INT), str(MISSING_INT + 1)),
            "external_id": (str(MISSING_INT), str(MISSING_INT + 1)), "name": ("a.png", "a.png"),
            "message_id": hex_missing, "report_id": hex_missing,
            "session_id": (str(alice_session), str(MISSING_INT)),
            "asset": ("swagger-ui.css", "swagger-ui.css"), "app_id": ("1", str(MISSING_INT)),
            "webhook_id": (str(MISSING_INT), str(MISSING_INT + 1)),
            "delivery_id": (MISSING_HEX + ":1", MISSING_HEX + ":2")}


def _fill(path: str, objects: dict[str, tuple[str, str]], which: int) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[0]
        for key in (f"{name}@{path.split('/{')[0]}", name):
            if key in objects:
                return objects[key][which]
        raise AssertionError(f"no value for {{{name}}} in {path}")
    return re.sub(r"\{([^}]+)\}", value, path)


async def _answer(api, method: str, path: str, token: str | None, body) -> tuple[int, object]:
    kwargs = {"json": body} if method in ("POST", "PUT", "DELETE") and body is not None else {}
    if method in ("POST", "PUT") and "json" not in kwargs:
        kwargs = {"json": {}}
    return await api.call(method, path, token, **kwargs)


def _scrub(answer: object, ids: tuple[str, str]) -> str:
    return json.dumps(answer, sort_keys=True, default=str).replace(ids[0], "<id>").replace(ids[1], "<id>")


async def test_every_route_in_the_matrix(api, client):
    registered = {(method, doc.path): _kind(doc.doc.security)
                  for (method, _), doc in client.server.app[route_docs_key].items() if method != "HEAD"}
    # a route with and without `.json` once (the bare one); one registered with it only, as is
    routes = sorted((method, path, kind) for (method, path), kind in registered.items()
                    if not (path.endswith(".json") and (method, path[:-5]) in registered))
    objects = await _objects(api)
    app_token = await api.app_token()
    stranger = await api.new_user(app_id=2, auth_key="other-key")
    rows, failures = [], []
    for method, path, kind in routes:
        template = re.sub(r"\{([^}:]+):[^}]+\}", r"{\1}", path)
        body = BODIES.get((method, template))
        real = _fill(path, objects, 0)
        anonymous, _ = await _answer(api, method, real, None, body)
        as_app, _ = await _answer(api, method, real, app_token, body)
        if (method, template) in (("DELETE", "/session"), ("DELETE", "/login")):
            app_token = await api.app_token()  # that call ended it
        row = [f"`{method} {template}`", kind, str(anonymous), str(as_app)]
        if anonymous >= 500 or as_app >= 500:
            failures.append(f"{method} {template}: 5xx ({anonymous}, {as_app})")
        if kind != "public" and anonymous not in (401, 403, 429):  # 429: wrong admin keys
            failures.append(f"{method} {template}: {anonymous} without credentials")
        names = re.findall(r"\{([^}:]+)", path)
        if kind == "session" and names:
            missing = _fill(path, objects, 1)
            other, other_body = await _answer(api, method, real, stranger["token"], body)
            gone, gone_body = await _answer(api, method, missing, stranger["token"], body)
            ids = next(objects[k] for k in (f"{names[0]}@{path.split('/{')[0]}", names[0]) if k in objects)
            same = other == gone and _scrub(other_body, ids) == _scrub(gone_body, ids)
            row.append(f"{other}" + ("" if same else f" (missing: {gone})"))
            if other >= 500 or not same:
                failures.append(f"{method} {template}: another app's object {other} {other_body} "
                                f"vs missing {gone} {gone_body}")
        else:
            row.append("–")
        rows.append(row)
    assert not failures, "\n".join(failures)

    table = "\n".join(["| route | credentials | none | app session | another app's user on app 1's object |",
                       "|---|---|---|---|---|", *("| " + " | ".join(r) + " |" for r in rows)])
    text = DOC.read_text() if DOC.exists() else ""
    block = f"{BEGIN}\n{table}\n{END}"
    if os.environ.get("CHAT_UPDATE_DOCS"):
        if BEGIN in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(text)
    assert block in text, "docs/reliability.md's matrix is stale: CHAT_UPDATE_DOCS=1 pytest " \
                          "tests/rest/test_authorization_matrix.py rewrites it"
    assert AUTH_KEY  # the first application's key signed the sessions above
