"""BlobService on real stores (mongomock) and a real LocalFileStore in a temporary directory."""
from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import BlobSettings
from models.blobs import BlobChanges, BlobDraft, BlobQuery
from models.errors import ForbiddenError, InvalidError, NotFoundError, TooLargeError, UnauthenticatedError
from models.requester import Requester
from models.services.blobs import BlobService, normalize_content_type, sanitize_name
from models.storage.blobs import BlobStore
from models.storage.counters import CounterStore
from models.storage.files import TEMP_DIR, WRITE_BUFFER, LocalFileStore, check_key

ALICE = Requester(app_id=1, user_id=10, session_id=1, token_hash="a")
BOB = Requester(app_id=1, user_id=11, session_id=2, token_hash="b")
EVE = Requester(app_id=2, user_id=20, session_id=3, token_hash="e")
APP_SESSION = Requester(app_id=1, user_id=0, session_id=4, token_hash="s")


@pytest.fixture
def files(tmp_path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "blobs")


@pytest.fixture
def blob_service(database, clock, files) -> BlobService:
    db = database.db
    settings = BlobSettings(path=files.root, max_bytes=10_000, upload_ttl_seconds=600)
    return BlobService(BlobStore(db), files, CounterStore(db), clock, settings, "http://chat.test:8080/")


async def chunks(*parts: bytes):
    for part in parts:
        await asyncio.sleep(0)
        yield part


def upload_token(access) -> str:
    return dict(parse_qsl(urlsplit(access.url).query))["token"]


# -- LocalFileStore --------------------------------------------------------------------------------
async def test_writes_are_invisible_until_commit(files):
    writer = await files.open_writer("1/abc")
    big = os.urandom(WRITE_BUFFER + 1234)
    await writer.write(big[:1000])
    await writer.write(big[1000:])
    assert await files.locate("1/abc") is None
    assert len(list((files.root / TEMP_DIR).iterdir())) == 1
    assert await writer.commit() == len(big)
    stored = await files.locate("1/abc")
    assert stored.size == len(big) and stored.path.read_bytes() == big
    assert list((files.root / TEMP_DIR).iterdir()) == []
    # a second write replaces the first atomically
    writer = await files.open_writer("1/abc")
    await writer.write(b"new")
    assert (await files.locate("1/abc")).path.read_bytes() == big
    await writer.commit()
    assert (await files.locate("1/abc")).path.read_bytes() == b"new"
    assert await files.delete("1/abc") is True
    assert await files.delete("1/abc") is False
    assert await files.locate("1/abc") is None


async def test_abort_leaves_nothing(files):
    writer = await files.open_writer("1/gone")
    await writer.write(b"x" * (WRITE_BUFFER * 2))
    await writer.abort()
    await writer.abort()  # idempotent
    assert await files.locate("1/gone") is None
    assert list((files.root / TEMP_DIR).iterdir()) == []
    with pytest.raises(RuntimeError):
        await writer.write(b"more")


@pytest.mark.parametrize("key", ["", "..", "../x", "1/../x", "/etc/passwd", "a//b", "a\\b", ".tmp/x",
                                 "a/b/c/d/e", "x" * 129, "a b", "ü", "1/abc.json"])
async def test_unsafe_keys_are_refused(files, key):
    with pytest.raises(ValueError):
        check_key(key)
    with pytest.raises(ValueError):
        await files.open_writer(key)
    with pytest.raises(ValueError):
        await files.locate(key)


async def test_sweep_removes_only_old_temporary_files(files):
    old = await files.open_writer("1/old")
    await old.write(b"x")
    fresh = await files.open_writer("1/fresh")
    temps = sorted((files.root / TEMP_DIR).iterdir(), key=lambda p: p.stat().st_mtime)
    past = time.time() - 7200
    os.utime(temps[0], (past, past))
    assert await files.sweep_temp(3600) == 1
    assert len(list((files.root / TEMP_DIR).iterdir())) == 1
    await fresh.abort()
    await old.abort()


# -- pure helpers ----------------------------------------------------------------------------------
@given(st.text(min_size=1, max_size=400))
def test_sanitized_names_are_safe(name):
    try:
        clean = sanitize_name(name)
    except InvalidError as exc:
        assert exc.field == "name"
        return
    assert clean and len(clean) <= 100
    assert not clean.startswith(".") and clean == clean.strip()
    assert not any(ch in clean for ch in '/\\"<>:|?*') and all(ord(ch) >= 32 and ord(ch) != 127 for ch in clean)


def test_name_examples():
    assert sanitize_name("C:\\Users\\me\\cat.jpeg") == "cat.jpeg"
    assert sanitize_name("  ..  ...x.png ") == "x.png"
    assert sanitize_name("y" * 200 + ".tar.gz") == "y" * 97 + ".gz"
    assert sanitize_name("z" * 120) == "z" * 100
    for bad in (None, "", "   ", "../", "...", {"a": 1}, ["x"], True):
        with pytest.raises(InvalidError):
            sanitize_name(bad)


def test_content_types():
    assert normalize_content_type("IMAGE/JPEG") == "image/jpeg"
    assert normalize_content_type("text/plain; charset=utf-8") == "text/plain"
    assert normalize_content_type("application/vnd.api+json") == "application/vnd.api+json"
    assert normalize_content_type(None) == "application/octet-stream"
    assert normalize_content_type("") == "application/octet-stream"
    for bad in ("image", "a/b/c", "a /b", "té/xt", "/x", 3, "x/" + "y" * 200):
        with pytest.raises(InvalidError) as info:
            normalize_content_type(bad)
        assert info.value.field == "content_type"
    with pytest.raises(InvalidError):
        normalize_content_type("", default=None)


# -- service ---------------------------------------------------------------------------------------
async def test_create_needs_a_user_and_hands_out_an_upload_url(blob_service, database, clock):
    with pytest.raises(ForbiddenError):
        await blob_service.create(APP_SESSION, BlobDraft(name="a"))
    blob, access = await blob_service.create(ALICE, BlobDraft(name="a.png", content_type="image/png"))
    assert access.url == f"http://chat.test:8080/blobs/upload?key={blob.uid}&token={upload_token(access)}"
    assert (access.expires_at - clock.now()).total_seconds() == 600
    doc = await database.db["blobs"].find_one({"_id": blob.id})
    assert doc["app_id"] == 1 and doc["user_id"] == 10 and doc["status"] == "new"
    assert upload_token(access) not in str(doc)
    other, _ = await blob_service.create(ALICE, BlobDraft(name="b"))
    assert other.id == blob.id + 1 and other.uid != blob.uid


async def test_one_time_token_wins_once_under_a_race(blob_service, files):
    blob, access = await blob_service.create(ALICE, BlobDraft(name="a"))
    token = upload_token(access)
    checked = [await blob_service.check_upload(blob.uid, token) for _ in range(2)]
    results = await asyncio.gather(
        blob_service.upload(checked[0], token, chunks(b"first", b"-one")),
        blob_service.upload(checked[1], token, chunks(b"second")),
        return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1 and isinstance(losers[0], ForbiddenError)
    stored = await files.locate(blob.file_key)
    assert stored.size == winners[0].size
    assert stored.path.read_bytes() in (b"first-one", b"second")
    assert list((files.root / TEMP_DIR).iterdir()) == []
    with pytest.raises(ForbiddenError):
        await blob_service.check_upload(blob.uid, token)


async def test_a_broken_stream_keeps_the_token(blob_service, files):
    blob, access = await blob_service.create(ALICE, BlobDraft(name="a"))
    token = upload_token(access)

    async def broken():
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blob_service.upload(await blob_service.check_upload(blob.uid, token), token, broken())
    assert await files.locate(blob.file_key) is None
    assert list((files.root / TEMP_DIR).iterdir()) == []
    with pytest.raises(TooLargeError):
        await blob_service.upload(blob, token, chunks(b"x" * 6000, b"x" * 6000))
    done = await blob_service.upload(await blob_service.check_upload(blob.uid, token), token,
                                     chunks(b"x" * 10_000))
    assert done.size == 10_000 and done.is_uploaded and not done.is_complete


async def test_check_upload_refusals(blob_service, clock):
    blob, access = await blob_service.create(ALICE, BlobDraft(name="a"))
    token = upload_token(access)
    with pytest.raises(InvalidError):
        await blob_service.check_upload(None, token)
    with pytest.raises(UnauthenticatedError):
        await blob_service.check_upload(blob.uid, "")
    with pytest.raises(NotFoundError):
        await blob_service.check_upload("../" + blob.uid, token)
    with pytest.raises(ForbiddenError):
        await blob_service.check_upload(blob.uid, token + "x")
    with pytest.raises(ForbiddenError):
        await blob_service.check_upload(blob.uid, token, caller=BOB)
    with pytest.raises(ForbiddenError):
        await blob_service.check_upload(blob.uid, token, caller=EVE)
    # an application session of the same app may carry the upload
    assert (await blob_service.check_upload(blob.uid.upper(), token, caller=APP_SESSION)).id == blob.id
    clock.advance(601)
    with pytest.raises(ForbiddenError):
        await blob_service.check_upload(blob.uid, token)


async def test_visibility_and_ownership(blob_service):
    blob, access = await blob_service.create(ALICE, BlobDraft(name="a", public=True))
    assert (await blob_service.get(BOB, blob.id)).uid == blob.uid
    assert (await blob_service.get(BOB, blob.uid)).id == blob.id
    for key in (blob.id, blob.uid, str(blob.id), "x", None, "9" * 40):
        with pytest.raises(NotFoundError):
            await blob_service.get(EVE, key)
    with pytest.raises(ForbiddenError):
        await blob_service.update(BOB, blob.id, BlobChanges(name="b"))
    with pytest.raises(ForbiddenError):
        await blob_service.delete(BOB, blob.id)
    with pytest.raises(ForbiddenError):
        await blob_service.complete(APP_SESSION, blob.id, 1)
    with pytest.raises(NotFoundError):
        await blob_service.delete(EVE, blob.id)
    items, total, page, per_page = await blob_service.list_own(BOB, BlobQuery())
    assert items == [] and total == 0 and (page, per_page) == (1, 10)


async def test_downloads_and_signed_urls(blob_service, clock):
    blob, access = await blob_service.create(ALICE, BlobDraft(name="a.txt", content_type="text/plain"))
    token = upload_token(access)
    await blob_service.upload(blob, token, chunks(b"hello"))
    with pytest.raises(NotFoundError):
        await blob_service.open_download(blob.uid, BOB)  # not complete yet
    blob = await blob_service.complete(ALICE, blob.id, 5)
    found, stored = await blob_service.open_download(blob.uid, BOB)
    assert found.id == blob.id and stored.path.read_bytes() == b"hello"
    with pytest.raises(UnauthenticatedError):
        await blob_service.open_download(blob.uid, None)
    with pytest.raises(ForbiddenError):
        await blob_service.open_download(blob.uid, APP_SESSION)
    with pytest.raises(NotFoundError):
        await blob_service.open_download(blob.uid, EVE)

    url, expires = blob_service.download_url(blob)
    query = dict(parse_qsl(urlsplit(url).query))
    assert urlsplit(url).path == f"/blobs/{blob.uid}" and expires is not None
    found, _ = await blob_service.open_download(blob.uid, None, int(query["expires"]), query["signature"])
    assert found.id == blob.id
    # the signature binds the uid and the expiry
    other, other_access = await blob_service.create(ALICE, BlobDraft(name="b"))
    with pytest.raises(UnauthenticatedError):
        await blob_service.open_download(blob.uid, None, int(query["expires"]) + 1, query["signature"])
    with pytest.raises(UnauthenticatedError):
        await blob_service.open_download(other.uid, None, int(query["expires"]), query["signature"])
    clock.advance(3601)
    with pytest.raises(UnauthenticatedError):
        await blob_service.open_download(blob.uid, None, int(query["expires"]), query["signature"])

    public, _ = await blob_service.update(ALICE, blob.id, BlobChanges(public=True))
    assert blob_service.download_url(public) == (f"http://chat.test:8080/blobs/{blob.uid}", None)
    found, _ = await blob_service.open_download(blob.uid, None)
    assert found.public


def test_shortened_names_do_not_end_in_spaces():
    assert sanitize_name("a" * 99 + "  b") == "a" * 99
    assert sanitize_name("a" * 90 + " " * 20 + ".txt") == "a" * 90 + ".txt"
    assert sanitize_name("line\u2028sep.txt") == "linesep.txt"


async def test_maintenance_pass_runs(services):
    """The periodic housekeeping (outbox pruning, abandoned upload sweep) runs without error."""
    await services.maintain()


async def test_signed_urls_verify_in_every_process_of_a_deployment(database, clock, files):
    """Two processes on one store share the signing key (kept in the store), so a link signed by
    one opens in the other; a key set in the settings wins and is not stored."""
    from pydantic import SecretStr

    from models.storage.secrets import SecretStore

    db = database.db
    settings = BlobSettings(path=files.root, max_bytes=10_000)

    def service(blob_settings: BlobSettings) -> BlobService:
        return BlobService(BlobStore(db), files, CounterStore(db), clock, blob_settings, "http://chat.test")

    first, second = service(settings), service(BlobSettings(path=files.root, max_bytes=10_000))
    for each in (first, second):
        await each.share_url_secret(SecretStore(db))
    blob, access = await first.create(ALICE, BlobDraft(name="a.txt"))
    await first.upload(blob, upload_token(access), chunks(b"hi"))
    blob = await first.complete(ALICE, blob.id, 2)
    query = dict(parse_qsl(urlsplit(first.download_url(blob)[0]).query))
    found, _ = await second.open_download(blob.uid, None, int(query["expires"]), query["signature"])
    assert found.id == blob.id

    pinned = service(BlobSettings(path=files.root, url_secret=SecretStr("from-the-environment")))
    await pinned.share_url_secret(SecretStore(db))
    with pytest.raises(UnauthenticatedError):
        await pinned.open_download(blob.uid, None, int(query["expires"]), query["signature"])
    stored = await db["secrets"].find_one({"_id": "blob_url_secret"})
    assert stored["value"] != "from-the-environment"
