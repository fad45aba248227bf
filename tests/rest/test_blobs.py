"""/blobs through the production REST app: the SDK's create → multipart upload → complete flow,
info / rename / list / delete, downloads (public, private, signed), limits and refusals."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

BOUNDARY = "----cbformboundary7MA4YWxkTrZu0gW"
UID_RE = re.compile(r"^[0-9a-f]{32}$")


def sdk_form(fields: list[tuple[str, str]], data: bytes, filename: str | None = None,
             content_type: str = "application/octet-stream") -> bytes:
    """multipart/form-data exactly as the SDK builds it: the URL's query parameters as fields, in
    order, then `file` (no filename when the SDK is given a node Buffer)."""
    out = bytearray()
    for name, value in fields:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    disposition = 'form-data; name="file"' + (f'; filename="{filename}"' if filename else "")
    out += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    out += data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return bytes(out)


FORM_HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def create(api, user, name="photo.png", content_type="image/png", public=False):
    status, body = await api.call("POST", "/blobs.json", user["token"], json={
        "blob": {"name": name, "content_type": content_type, "public": public}})
    assert status == 201, body
    return body["blob"]


async def upload(api, blob, data: bytes, token: str | None = None, **form):
    """POSTs to `blob_object_access.params` the way the SDK does."""
    url = urlsplit(blob["blob_object_access"]["params"])
    fields = parse_qsl(url.query)
    headers = dict(FORM_HEADERS)
    if token:
        headers["CB-Token"] = token
    return await api.call("POST", url.path, data=sdk_form(fields, data, **form), headers=headers)


async def uploaded(api, user, data: bytes, **kwargs):
    blob = await create(api, user, **kwargs)
    status, body = await upload(api, blob, data, user["token"])
    assert status == 201, body
    status, body = await api.call("PUT", f"/blobs/{blob['id']}/complete.json", user["token"],
                                  json={"size": len(data)})
    assert status == 200, body
    return body["blob"]


async def test_sdk_upload_flow_end_to_end(api, client, services, settings):
    alice = await api.new_user("alice")
    data = bytes(range(256)) * 300  # 76,800 bytes: several read chunks
    blob = await create(api, alice, name="cat.png", content_type="image/png")
    assert isinstance(blob["id"], int) and UID_RE.match(blob["uid"])
    assert blob["name"] == "cat.png" and blob["content_type"] == "image/png"
    assert blob["size"] is None and blob["public"] is False and blob["blob_status"] is None
    access = blob["blob_object_access"]
    assert access["id"] == blob["id"] and access["blob_id"] == blob["id"]
    assert access["object_access_type"] == "Write" and access["expires"].endswith("Z")
    url = urlsplit(access["params"])
    assert f"{url.scheme}://{url.netloc}" == settings.http.base_url and url.path == "/blobs/upload"
    query = dict(parse_qsl(url.query))
    assert list(query) == ["key", "token"] and query["key"] == blob["uid"]
    # only the hash of the one-time token is stored
    doc = await services.database.db["blobs"].find_one({"_id": blob["id"]})
    assert query["token"] not in str(doc) and doc["upload_token_hash"]

    status, body = await upload(api, blob, data, alice["token"])
    assert status == 201, body
    assert body["blob"]["size"] == len(data) and body["blob"]["blob_status"] is None
    stored = settings.blobs.path / "1" / blob["uid"]
    assert stored.read_bytes() == data
    assert list((settings.blobs.path / ".tmp").iterdir()) == []

    status, body = await api.call("PUT", f"/blobs/{blob['id']}/complete.json", alice["token"],
                                  json={"size": len(data)})
    assert status == 200 and body["blob"]["blob_status"] == "complete"
    assert body["blob"]["set_completed_at"] is not None

    for key in (blob["id"], blob["uid"]):
        status, body = await api.call("GET", f"/blobs/{key}.json", alice["token"])
        assert status == 200 and body["blob"]["id"] == blob["id"] and body["blob"]["size"] == len(data)
        assert "blob_object_access" not in body["blob"]

    # privateUrl(uid): <base>/blobs/<uid>?token=<session token>
    resp = await client.get(f"/blobs/{blob['uid']}", params={"token": alice["token"]})
    assert resp.status == 200
    assert await resp.read() == data
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["Content-Disposition"] == \
        "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp = await client.get(f"/blobs/{blob['uid']}/download", headers={"CB-Token": alice["token"]})
    assert resp.status == 200 and await resp.read() == data
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    # ranges work (video players need them)
    resp = await client.get(f"/blobs/{blob['uid']}", params={"token": alice["token"]},
                            headers={"Range": "bytes=10-19"})
    assert resp.status == 206 and await resp.read() == data[10:20]


async def test_upload_carries_no_session_and_file_may_have_a_filename(api, client):
    """The token in the form is the credential; a browser File part has a filename."""
    alice = await api.new_user("alice")
    blob = await create(api, alice, name="a.txt", content_type="text/plain", public=True)
    status, body = await upload(api, blob, b"hello", None, filename="a.txt", content_type="text/plain")
    assert status == 201 and body["blob"]["size"] == 5
    status, body = await api.call("PUT", f"/blobs/{blob['id']}/complete", alice["token"],
                                  json={"blob": {"size": "5"}})
    assert status == 200 and body["blob"]["blob_status"] == "complete"
    resp = await client.get(f"/blobs/{blob['uid']}")  # publicUrl: no token
    assert resp.status == 200 and await resp.read() == b"hello"
    assert resp.headers["Content-Type"] == "text/plain"


async def test_octet_stream_blob_takes_the_part_content_type(api):
    alice = await api.new_user("alice")
    blob = await create(api, alice, name="x.bin", content_type="")
    assert blob["content_type"] == "application/octet-stream"
    status, body = await upload(api, blob, b"%PDF-1.4", content_type="application/pdf")
    assert status == 201 and body["blob"]["content_type"] == "application/pdf"
    # a declared type is not replaced by the SDK's generic octet-stream part type
    blob = await create(api, alice, name="y.png", content_type="image/png")
    status, body = await upload(api, blob, b"png")
    assert status == 201 and body["blob"]["content_type"] == "image/png"


async def test_chunked_upload_without_content_length(api, client, settings):
    alice = await api.new_user("alice")
    blob = await create(api, alice)
    payload = b"z" * 200_000
    body = sdk_form(parse_qsl(urlsplit(blob["blob_object_access"]["params"]).query), payload)

    async def stream():
        for i in range(0, len(body), 7000):
            yield body[i:i + 7000]

    resp = await client.post("/blobs/upload", data=stream(), headers=FORM_HEADERS)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["blob"]["size"] == len(payload)
    assert (settings.blobs.path / "1" / blob["uid"]).read_bytes() == payload


async def test_private_and_public_downloads(api, client, clock):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    eve = await api.new_user("eve", app_id=2, auth_key="other-key")
    private = await uploaded(api, alice, b"secret", name="s.txt", content_type="text/plain")
    public = await uploaded(api, alice, b"open", name="p.txt", content_type="text/plain", public=True)

    resp = await client.get(f"/blobs/{public['uid']}")
    assert resp.status == 200 and await resp.read() == b"open"
    assert "public" in resp.headers["Cache-Control"]

    path = f"/blobs/{private['uid']}"
    status, body = await api.call("GET", path)
    assert status == 401 and body == {"errors": {"base": ["Required session does not exist"]}}
    status, _ = await api.call("GET", path, params={"token": "not-a-session"})
    assert status == 401
    status, body = await api.call("GET", path, params={"token": await api.app_token()})
    assert status == 403 and "errors" in body  # an application session is not a user
    status, body = await api.call("GET", path, params={"token": eve["token"]})
    assert status == 404 and body == {"errors": {"base": ["Blob not found"]}}  # other app: invisible
    resp = await client.get(path, params={"token": bob["token"]})  # any user of the app
    assert resp.status == 200 and await resp.read() == b"secret"
    assert "private" in resp.headers["Cache-Control"]

    # a signed, expiring download URL for private blobs
    status, body = await api.call("GET", f"/blobs/{private['uid']}/object.json", bob["token"],
                                  params={"download_url": "1"})
    assert status == 200
    access = body["blob"]["blob_object_access"]
    assert access["object_access_type"] == "Read" and access["expires"]
    signed = urlsplit(access["download_url"])
    assert signed.path == path and "token" not in dict(parse_qsl(signed.query))
    resp = await client.get(signed.path, params=dict(parse_qsl(signed.query)))
    assert resp.status == 200 and await resp.read() == b"secret"
    tampered = {**dict(parse_qsl(signed.query)), "expires": "99999999999"}
    assert (await client.get(signed.path, params=tampered)).status == 401
    clock.advance(2 * 3600)
    assert (await client.get(signed.path, params=dict(parse_qsl(signed.query)))).status == 401

    status, body = await api.call("GET", f"/blobs/{public['uid']}/object", bob["token"],
                                  params={"download_url": "1"})
    assert body["blob"]["blob_object_access"]["download_url"].endswith(f"/blobs/{public['uid']}")
    status, body = await api.call("GET", f"/blobs/{public['uid']}/object.json", bob["token"])
    assert status == 200 and "download_url" not in body["blob"]["blob_object_access"]


async def test_incomplete_and_unknown_blobs_are_not_served(api, client):
    alice = await api.new_user("alice")
    blob = await create(api, alice, public=True)
    assert (await client.get(f"/blobs/{blob['uid']}")).status == 404  # nothing uploaded
    status, _ = await upload(api, blob, b"data")
    assert status == 201
    status, body = await api.call("GET", f"/blobs/{blob['uid']}")
    assert status == 404 and body == {"errors": {"base": ["Blob is not complete"]}}
    assert (await client.get("/blobs/" + "0" * 32)).status == 404
    assert (await client.get("/blobs/not-a-uid")).status == 404
    assert (await client.get("/blobs/..%2F..%2Fetc%2Fpasswd")).status == 404


async def test_size_limit(api, settings, services):
    services.settings.blobs.max_bytes = 1000
    alice = await api.new_user("alice")
    blob = await create(api, alice)
    status, body = await upload(api, blob, b"x" * 1001)
    assert status == 413 and body == {"errors": {"base": ["File is too large (maximum is 1000 bytes)"]}}
    assert not (settings.blobs.path / "1" / blob["uid"]).exists()
    assert list((settings.blobs.path / ".tmp").iterdir()) == []
    # a Content-Length far above the limit is refused before reading
    status, body = await upload(api, blob, b"x" * 200_000)
    assert status == 413
    # the token was not consumed by the refused uploads
    status, body = await upload(api, blob, b"x" * 1000)
    assert status == 201 and body["blob"]["size"] == 1000


async def test_upload_token_checks(api, clock, services):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    blob = await create(api, alice)
    fields = dict(parse_qsl(urlsplit(blob["blob_object_access"]["params"]).query))

    async def post(form, headers=None):
        return await api.call("POST", "/blobs/upload", data=sdk_form(list(form.items()), b"data"),
                              headers={**FORM_HEADERS, **(headers or {})})

    status, body = await post({"key": blob["uid"]})
    assert status == 401 and body == {"errors": {"base": ["upload token is missing"]}}
    status, body = await post({"key": blob["uid"], "token": "A" * 43})
    assert status == 403
    status, body = await post({"token": fields["token"]})
    assert status == 422 and body == {"errors": {"key": ["can't be blank"]}}
    status, body = await post({"key": "f" * 32, "token": fields["token"]})
    assert status == 404
    # bob's own token does not open alice's blob
    bobs = await create(api, bob)
    bob_token = dict(parse_qsl(urlsplit(bobs["blob_object_access"]["params"]).query))["token"]
    status, _ = await post({"key": blob["uid"], "token": bob_token})
    assert status == 403
    # the right token sent with another user's session is refused too
    status, body = await post(fields, {"CB-Token": bob["token"]})
    assert status == 403 and body == {"errors": {"base": ["You can upload only into your own blobs"]}}
    eve = await api.new_user("eve", app_id=2, auth_key="other-key")
    status, _ = await post(fields, {"CB-Token": eve["token"]})
    assert status == 403
    # one time only
    status, _ = await post(fields, {"CB-Token": alice["token"]})
    assert status == 201
    status, body = await post(fields)
    assert status == 403 and body == {"errors": {"base": ["upload token is invalid or already used"]}}
    # expiry
    late = await create(api, alice)
    late_fields = dict(parse_qsl(urlsplit(late["blob_object_access"]["params"]).query))
    clock.advance(services.settings.blobs.upload_ttl_seconds + 1)
    status, body = await post(late_fields)
    assert status == 403 and body == {"errors": {"base": ["upload token has expired"]}}


async def test_malformed_uploads(api, client, settings):
    alice = await api.new_user("alice")
    blob = await create(api, alice)
    fields = parse_qsl(urlsplit(blob["blob_object_access"]["params"]).query)
    status, body = await api.call("POST", "/blobs/upload", json={"key": blob["uid"]})
    assert status == 400 and body == {"errors": {"base": ["The upload must be multipart/form-data"]}}
    status, body = await api.call("POST", "/blobs/upload", data=b"--nope\r\ngarbage",
                                  headers=FORM_HEADERS)
    assert status == 400 and body == {"errors": {"base": ["Malformed multipart body"]}}
    # fields but no file part
    raw = "".join(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                  for k, v in fields) + f"--{BOUNDARY}--\r\n"
    status, body = await api.call("POST", "/blobs/upload", data=raw.encode(), headers=FORM_HEADERS)
    assert status == 422 and body == {"errors": {"file": ["can't be blank"]}}
    # an oversized form field
    status, body = await api.call("POST", "/blobs/upload", headers=FORM_HEADERS,
                                  data=sdk_form([("key", blob["uid"]), ("x", "y" * 10_000)], b"d"))
    assert status == 400 and body == {"errors": {"base": ["Form field is too large"]}}
    # base64 transfer encoding is not decoded, so it is refused rather than stored wrongly
    raw = sdk_form(fields, b"ZGF0YQ==").replace(
        b"Content-Type: application/octet-stream",
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64")
    status, body = await api.call("POST", "/blobs/upload", data=raw, headers=FORM_HEADERS)
    assert status == 400
    # a body cut short (no closing boundary) is refused, not stored with the framing in it
    full = sdk_form(fields, b"hello world")
    for cut in (full[:-20], full[: full.rindex(f"--{BOUNDARY}--".encode())]):
        status, body = await api.call("POST", "/blobs/upload", data=cut, headers=FORM_HEADERS)
        assert status == 400 and body == {"errors": {"base": ["Malformed multipart body"]}}
    for headers in ({"Content-Type": "multipart/form-data"},
                    {"Content-Type": "multipart/form-data; boundary=zzz"}):
        status, body = await api.call("POST", "/blobs/upload", data=full, headers=headers)
        assert status == 400
    nested = full.replace(b"Content-Type: application/octet-stream",
                          b"Content-Type: multipart/mixed; boundary=abc")
    status, body = await api.call("POST", "/blobs/upload", data=nested, headers=FORM_HEADERS)
    assert status == 400
    assert not (settings.blobs.path / "1" / blob["uid"]).exists()
    assert list((settings.blobs.path / ".tmp").iterdir()) == []
    # the blob is still uploadable after all of that
    status, _ = await upload(api, blob, b"ok")
    assert status == 201
    status, body = await api.call("GET", "/blobs/upload")
    assert status in (404, 405) and "errors" in body


async def test_complete_rules(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    eve = await api.new_user("eve", app_id=2, auth_key="other-key")
    blob = await create(api, alice)
    path = f"/blobs/{blob['id']}/complete.json"
    status, body = await api.call("PUT", path, alice["token"], json={"size": 4})
    assert status == 422 and body == {"errors": {"base": ["file has not been uploaded yet"]}}
    await upload(api, blob, b"data")
    status, body = await api.call("PUT", path, alice["token"], json={"size": 5})
    assert status == 422 and body == {"errors": {"size": ["does not match the uploaded file size"]}}
    status, body = await api.call("PUT", path, alice["token"], json={"blob": {"size": "four"}})
    assert status == 422 and body == {"errors": {"size": ["must be an integer"]}}
    status, body = await api.call("PUT", path, bob["token"], json={"size": 4})
    assert status == 403
    status, body = await api.call("PUT", path, eve["token"], json={"size": 4})
    assert status == 404
    status, body = await api.call("PUT", path, None, json={"size": 4})
    assert status == 401
    status, body = await api.call("PUT", path, alice["token"], data=b"{bad", headers={
        "Content-Type": "application/json"})
    assert status == 400
    status, body = await api.call("PUT", path, alice["token"], json={"size": 4})
    assert status == 200 and body["blob"]["blob_status"] == "complete" and body["blob"]["size"] == 4
    status, body = await api.call("PUT", path, alice["token"], json={"blob": {"size": 4}})
    assert status == 200  # idempotent
    status, _ = await api.call("PUT", "/blobs/999999/complete.json", alice["token"], json={"size": 4})
    assert status == 404


async def test_create_validation(api):
    alice = await api.new_user("alice")
    call = lambda body, token=alice["token"]: api.call("POST", "/blobs.json", token, json=body)  # noqa: E731
    assert await call({}) == (422, {"errors": {"blob": ["can't be blank"]}})
    assert await call({"blob": "x"}) == (422, {"errors": {"blob": ["must be an object"]}})
    assert await call({"blob": {"content_type": "image/png"}}) == (422, {"errors": {"name": ["can't be blank"]}})
    assert await call({"blob": {"name": "../..", "content_type": "image/png"}}) == \
        (422, {"errors": {"name": ["can't be blank"]}})
    for bad in ("image", "image/", "/png", "ima ge/png", "image/png/x", 5, ["image/png"]):
        assert await call({"blob": {"name": "a", "content_type": bad}}) == \
            (422, {"errors": {"content_type": ["must be a MIME type (type/subtype)"]}}), bad
    assert await call({"blob": {"name": "a", "public": "maybe"}}) == \
        (422, {"errors": {"public": ["must be a boolean"]}})
    status, body = await call({"blob": {"name": "a", "content_type": "Image/PNG; charset=x", "public": "1"}})
    assert status == 201 and body["blob"]["content_type"] == "image/png" and body["blob"]["public"] is True
    status, body = await api.call("POST", "/blobs.json", await api.app_token(),
                                  json={"blob": {"name": "a"}})
    assert status == 403
    status, body = await api.call("POST", "/blobs.json", json={"blob": {"name": "a"}})
    assert status == 401
    status, body = await api.call("POST", "/blobs.json", alice["token"], data=b"[1]",
                                  headers={"Content-Type": "application/json"})
    assert status == 400
    # form-encoded bodies work too
    status, body = await api.call("POST", "/blobs", alice["token"],
                                  data={"blob[name]": "f.txt", "blob[content_type]": "text/plain"})
    assert status == 201 and body["blob"]["name"] == "f.txt"


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system.ini", "system.ini"),
    ("/abs/path/x.png", "x.png"),
    (".hidden", "hidden"),
    ("a\x00b\r\nc.txt", "a_b__c.txt"),
    ('qu"o<t>e|s?.txt', "qu_o_t_e_s_.txt"),
    ("photo\u202egnp.exe", "photognp.exe"),
    ("x" * 150 + ".jpeg", "x" * 95 + ".jpeg"),
])
async def test_names_are_sanitised(api, client, settings, name, expected):
    alice = await api.new_user()
    blob = await create(api, alice, name=name)
    assert blob["name"] == expected
    done = await uploaded(api, alice, b"1", name=name)
    resp = await client.get(f"/blobs/{done['uid']}", params={"token": alice["token"]})
    assert resp.status == 200
    assert resp.headers["Content-Disposition"].startswith(f'inline; filename="{expected}"')
    # the bytes are stored by uid, never by name
    assert (settings.blobs.path / "1" / done["uid"]).is_file()
    assert sorted(p.name for p in (settings.blobs.path / "1").iterdir()) == [done["uid"]]


async def test_unicode_name_and_risky_types(api, client):
    alice = await api.new_user("alice")
    blob = await uploaded(api, alice, b"<script>alert(1)</script>", name="résumé \"v2\".html",
                          content_type="text/html")
    resp = await client.get(f"/blobs/{blob['uid']}", params={"token": alice["token"]})
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_ _v2_.html\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20_v2_.html")
    assert resp.headers["Content-Security-Policy"].endswith("sandbox")


async def test_info_rename_update_and_other_app(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    eve = await api.new_user("eve", app_id=2, auth_key="other-key")
    blob = await uploaded(api, alice, b"abc", name="a.txt", content_type="text/plain")
    # any user session of the app sees the info (an application session: public blobs only,
    # test_an_application_session_sees_public_blobs_only); another app does not
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", bob["token"])
    assert status == 200 and body["blob"]["uid"] == blob["uid"]
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", await api.app_token())
    assert status == 404
    for key in (blob["id"], blob["uid"]):
        status, body = await api.call("GET", f"/blobs/{key}.json", eve["token"])
        assert status == 404 and body == {"errors": {"base": ["Blob not found"]}}
    status, body = await api.call("GET", f"/blobs/{blob['uid']}/object.json", eve["token"])
    assert status == 404
    status, _ = await api.call("GET", f"/blobs/{blob['id']}.json")
    assert status == 401
    status, _ = await api.call("GET", "/blobs/abc.json", alice["token"])
    assert status == 404

    # the SDK's update: GET with blob[name]
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", alice["token"],
                                  params={"blob[name]": "../renamed.txt"})
    assert status == 200 and body["blob"]["name"] == "renamed.txt"
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", bob["token"],
                                  params={"blob[name]": "mine.txt"})
    assert status == 403
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", eve["token"],
                                  params={"blob[name]": "mine.txt"})
    assert status == 404
    status, body = await api.call("PUT", f"/blobs/{blob['id']}.json", alice["token"],
                                  json={"blob": {"public": True, "content_type": "text/markdown"}})
    assert status == 200 and body["blob"]["public"] is True
    assert body["blob"]["content_type"] == "text/markdown" and body["blob"]["name"] == "renamed.txt"
    # flags as the query string carries them; an empty one keeps the current value
    for flag, public in (("0", False), ("", False), ("true", True), ("", True)):
        status, body = await api.call("GET", f"/blobs/{blob['id']}.json", alice["token"],
                                      params={"blob[public]": flag})
        assert status == 200 and body["blob"]["public"] is public, flag
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", alice["token"],
                                  params={"blob[new]": "perhaps"})
    assert status == 422 and body == {"errors": {"new": ["must be a boolean"]}}
    status, body = await api.call("PUT", f"/blobs/{blob['id']}.json", alice["token"],
                                  json={"blob": {"content_type": "nope"}})
    assert status == 422 and "content_type" in body["errors"]
    status, body = await api.call("GET", f"/blobs/{blob['id']}.json", alice["token"])
    assert body["blob"]["name"] == "renamed.txt" and body["blob"]["content_type"] == "text/markdown"


async def test_new_content_through_update(api, client):
    alice = await api.new_user("alice")
    blob = await uploaded(api, alice, b"v1", public=True)
    status, body = await api.call("PUT", f"/blobs/{blob['id']}", alice["token"], json={"blob": {"new": "1"}})
    assert status == 200
    fresh = body["blob"]
    assert fresh["blob_status"] is None and fresh["blob_object_access"]["object_access_type"] == "Write"
    assert (await client.get(f"/blobs/{blob['uid']}")).status == 404  # not complete again yet
    status, _ = await upload(api, fresh, b"version2")
    assert status == 201
    status, _ = await api.call("PUT", f"/blobs/{blob['id']}/complete", alice["token"], json={"size": 8})
    assert status == 200
    resp = await client.get(f"/blobs/{blob['uid']}")
    assert await resp.read() == b"version2"


async def test_list_own_blobs(api):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    ids = [(await create(api, alice, name=f"f{i}.png"))["id"] for i in range(3)]
    await create(api, bob)
    status, body = await api.call("GET", "/blobs.json", alice["token"], params={"per_page": 2})
    assert status == 200
    assert body["current_page"] == 1 and body["per_page"] == 2 and body["total_entries"] == 3
    assert [item["blob"]["id"] for item in body["items"]] == [ids[2], ids[1]]
    status, body = await api.call("GET", "/blobs.json", alice["token"], params={"page": 2, "per_page": 2})
    assert [item["blob"]["id"] for item in body["items"]] == [ids[0]]
    status, body = await api.call("GET", "/blobs", alice["token"], params={"current_page": 2, "per_page": 2})
    assert [item["blob"]["id"] for item in body["items"]] == [ids[0]]
    status, body = await api.call("GET", "/blobs.json", alice["token"], params={"per_page": 1000})
    assert body["per_page"] == 100
    status, body = await api.call("GET", "/blobs.json", alice["token"], params={"page": "x"})
    assert status == 422 and body == {"errors": {"page": ["must be an integer"]}}
    status, body = await api.call("GET", "/blobs.json", alice["token"], params={"per_page": 0})
    assert status == 422
    status, body = await api.call("GET", "/blobs.json", await api.app_token())
    assert status == 403


async def test_delete(api, client, settings):
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    blob = await uploaded(api, alice, b"bye", public=True)
    stored = settings.blobs.path / "1" / blob["uid"]
    assert stored.exists()
    status, _ = await api.call("DELETE", f"/blobs/{blob['id']}.json", bob["token"])
    assert status == 403 and stored.exists()
    status, body = await api.call("DELETE", f"/blobs/{blob['id']}.json", alice["token"])
    assert status == 200 and body == {}
    assert not stored.exists()
    status, _ = await api.call("GET", f"/blobs/{blob['id']}.json", alice["token"])
    assert status == 404
    assert (await client.get(f"/blobs/{blob['uid']}")).status == 404
    status, _ = await api.call("DELETE", f"/blobs/{blob['id']}", alice["token"])
    assert status == 404
    status, _ = await api.call("DELETE", "/blobs/xyz", alice["token"])
    assert status == 404


async def test_upload_into_deleted_blob_leaves_nothing(api, settings):
    alice = await api.new_user("alice")
    blob = await create(api, alice)
    status, _ = await api.call("DELETE", f"/blobs/{blob['id']}", alice["token"])
    assert status == 200
    status, _ = await upload(api, blob, b"late")
    assert status == 404
    assert not (settings.blobs.path / "1" / blob["uid"]).exists()



async def test_an_application_session_sees_public_blobs_only(api):
    """The app's auth key is in every copy of the app: its sessions must not walk the private
    attachments of users (blob ids are sequential). Public ones stay readable to it."""
    alice = await api.new_user()
    private = await create(api, alice, name="secret.png")
    public = await create(api, alice, name="open.png", public=True)
    app_token = await api.app_token()
    for path in (f"/blobs/{private['id']}.json", f"/blobs/{private['id']}/object.json?download_url=1",
                 f"/blobs/{private['uid']}.json"):
        status, body = await api.call("GET", path, app_token)
        assert status == 404 and body == {"errors": {"base": ["Blob not found"]}}, (path, body)
        status, _ = await api.call("GET", path, alice["token"])
        assert status == 200, path
    status, body = await api.call("GET", f"/blobs/{public['id']}.json", app_token)
    assert status == 200 and body["blob"]["uid"] == public["uid"]
