"""`chatbridge apps|users|indexes|export` on a store of their own (the MongoDB path: `Direct`),
through click's CliRunner: the services are the production `build_services` on the test store
(mongomock, or a real MongoDB with CHAT_TEST_MONGO_URL), handed in as `obj["services"]`."""
from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from chatbridge.cli import main
from config.settings import MongoSettings, Settings
from models.dialogs import DialogDraft, DialogType
from models.messages import draft_from_params
from models.requester import Requester
from models.services.container import build_services
from models.storage.mongo import memory_database, open_database
from models.users import UserDraft


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("CHAT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("CHAT_DATA_DIR", str(tmp_path / "data"))
    # the default application is 9 here (the next free id skips it: see the test below)
    monkeypatch.setenv("CHAT_APP__ID", "9")
    return tmp_path


@pytest.fixture
def store():
    """A factory of services on one store, shared by every command of a test."""
    url = os.environ.get("CHAT_TEST_MONGO_URL")
    if url:
        name = f"test_cli_{uuid.uuid4().hex[:8]}"
        opened = []

        def factory(settings: Settings):
            database = open_database(MongoSettings(url=SecretStr(url), database=name))
            opened.append(database)
            return build_services(settings, database)

        yield factory
        database = open_database(MongoSettings(url=SecretStr(url), database=name))
        asyncio.run(database.client.drop_database(name))
        database.close()
    else:
        database = memory_database()
        yield lambda settings: build_services(settings, database)


@pytest.fixture
def cli(env, store):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), obj={"services": store}, input=input,
                             catch_exceptions=False)

    return invoke


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_apps_create_list_show_and_keys_shown_once(cli, store):
    made = _json(cli("apps", "create", "Acme", "--json"))
    assert made["app"]["id"] == 1 and made["app"]["title"] == "Acme"
    assert {"auth_key", "auth_secret", "admin_api_key"} <= set(made)
    second = _json(cli("apps", "create", "Beta", "--json"))
    assert second["app"]["id"] == 2
    assert second["admin_api_key"] != made["admin_api_key"]
    listed = _json(cli("apps", "list", "--json"))
    assert [(a["id"], a["title"]) for a in listed] == [(1, "Acme"), (2, "Beta")]
    assert all("auth_secret" not in a and "admin_api_key" not in a for a in listed)
    shown = _json(cli("apps", "show", "2", "--json"))
    assert shown["users"] == 0 and shown["auth_key"] == second["auth_key"]
    assert made["admin_api_key"] not in json.dumps(listed) + json.dumps(shown)

    async def check():
        services = store(Settings(_env_file=None))
        app = await services.apps.resolve_admin_key(second["admin_api_key"])
        assert app.app_id == 2 and app.is_admin
        assert await services.sessions.check_auth_key(second["auth_key"]) == 2
        doc = await services.apps._apps.get(2)
        assert second["admin_api_key"] not in json.dumps(doc, default=str)  # only its hash

    asyncio.run(check())
    human = cli("apps", "create", "Gamma [/] [bold]")
    assert human.exit_code == 0 and "admin_api_key:" in human.output and "shown now only" in human.output
    assert "(Gamma [/] [bold])" in human.output  # printed as given, not as rich markup
    assert "Gamma [/] [bold]" in cli("apps", "list").output


def test_apps_errors_exit_non_zero_without_traceback(cli):
    cli("apps", "create", "Acme", "--json")
    for args, text in [(("apps", "show", "7"), "Application not found"),
                       (("apps", "create", "Again", "--id", "1"), "exists already"),
                       (("apps", "create", "  "), "title"),
                       (("apps", "rotate-keys", "7", "--yes"), "Application not found")]:
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert text in result.output and "Traceback" not in result.output


def test_rotate_keys(cli, store):
    made = _json(cli("apps", "create", "Acme", "--json"))
    made2 = _json(cli("apps", "create", "Beta", "--json"))
    refused = cli("apps", "rotate-keys", "2", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    rotated = _json(cli("apps", "rotate-keys", "2", "--yes", "--json"))
    assert rotated["admin_api_key"] != made2["admin_api_key"] and "auth_key" not in rotated
    both = _json(cli("apps", "rotate-keys", "2", "--auth", "--yes", "--json"))
    assert both["auth_key"] != made2["auth_key"] and both["auth_secret"]

    async def check():
        from models.errors import UnauthenticatedError

        services = store(Settings(_env_file=None))
        for old in (made2["admin_api_key"], rotated["admin_api_key"]):
            with pytest.raises(UnauthenticatedError):
                await services.apps.resolve_admin_key(old)
        assert (await services.apps.resolve_admin_key(both["admin_api_key"])).app_id == 2
        assert (await services.apps.resolve_admin_key(made["admin_api_key"])).app_id == 1
        with pytest.raises(UnauthenticatedError):
            await services.sessions.check_auth_key(made2["auth_key"])
        assert await services.sessions.check_auth_key(both["auth_key"]) == 2

    asyncio.run(check())


def test_the_next_free_id_is_never_the_default_apps(cli, monkeypatch):
    monkeypatch.setenv("CHAT_APP__ID", "1")
    made = _json(cli("apps", "create", "Acme", "--json"))
    assert made["app"]["id"] == 2  # 1 is left to the default application, made by `serve`
    assert _json(cli("apps", "create", "Own", "--id", "1", "--json"))["app"]["id"] == 1
    assert _json(cli("apps", "create", "Next", "--json"))["app"]["id"] == 3


def test_rotate_keys_of_a_default_app_set_by_the_settings(cli, monkeypatch):
    monkeypatch.setenv("CHAT_APP__ID", "1")
    cli("apps", "create", "Acme", "--id", "1", "--json")
    monkeypatch.setenv("CHAT_APP__ADMIN_API_KEY", "k" * 20)
    result = cli("apps", "rotate-keys", "1", "--yes")
    assert result.exit_code == 1 and "CHAT_APP__ADMIN_API_KEY" in result.output


def test_users_import_csv_reports_rejected_rows_with_line_numbers(cli, env, store):
    _json(cli("apps", "create", "Acme", "--json"))
    _json(cli("apps", "create", "Other", "--json"))
    path = env / "users.csv"
    path.write_text("login,password,full_name,email\n"
                    "ann01,password123,Ann,ann@example.com\n"
                    "bob01,short,Bob,\n"
                    "ann01,password123,Ann again,\n"
                    ",password123,Nobody,\n"
                    "cat01,password123,Cat,ann@example.com\n"
                    "dan01,password123,\"Dan, Jr\",\n"
                    "x,y,z,w,extra\n")
    result = cli("users", "import", str(path), "--app", "2", "--batch", "2")
    assert result.exit_code == 1, result.output
    assert "2 users created, 5 rows rejected (application 2)" in result.stdout
    for line, reason in [(3, "password: is too short"), (4, "login: has already been taken"),
                         (5, "login or email required"), (6, "email: has already been taken"),
                         (8, "more values than the header")]:
        assert any(row.startswith(f"│ {line} ") and reason in row
                   for row in result.stderr.splitlines()), (line, result.stderr)

    async def check():
        services = store(Settings(_env_file=None))
        app2 = {u["login"]: u for u in await services.users._users.page(2, (), (("_id", 1),), 0, 100)}
        assert set(app2) == {"ann01", "dan01"} and app2["dan01"]["full_name"] == "Dan, Jr"
        assert await services.users._users.count_matching(1, ()) == 0  # nothing in another app

    asyncio.run(check())
    again = cli("users", "import", str(path), "--app", "2")
    assert again.exit_code == 1 and "0 users created, 7 rows rejected" in again.stdout


def test_users_import_jsonl_streams_in_batches(cli, env, store):
    _json(cli("apps", "create", "Acme", "--json"))
    path = env / "users.jsonl"
    rows = [json.dumps({"login": f"user{i:04d}", "password": "password123", "tag_list": "a,b"})
            for i in range(45)]
    rows.insert(10, "{broken")
    rows.insert(20, "")
    path.write_text("\n".join(rows) + "\n")
    result = cli("users", "import", str(path), "--batch", "7", "--app", "1")
    assert "45 users created, 1 rows rejected (application 1)" in result.stdout, result.output
    assert "│ 11 " in result.stderr and "not a JSON object" in result.stderr
    shown = _json(cli("apps", "show", "1", "--json"))
    assert shown["users"] == 45


def test_users_import_bad_files(cli, env):
    _json(cli("apps", "create", "Acme", "--json"))
    (env / "u.txt").write_text("login\nann\n")
    result = cli("users", "import", str(env / "u.txt"))
    assert result.exit_code == 2 and "--format" in result.output
    result = cli("users", "import", str(env / "missing.csv"))
    assert result.exit_code == 1 and "cannot read" in result.output
    (env / "bin.csv").write_bytes(b"login,password\n\xff\xfe\x00bad,pass\n")
    result = cli("users", "import", str(env / "bin.csv"))
    assert result.exit_code == 1 and "not a readable csv file" in result.output
    assert "Traceback" not in result.output
    result = cli("users", "import", str(env / "u.txt"), "--format", "csv", "--app", "9")
    assert result.exit_code == 1 and "Application not found" in result.output


def test_users_create_and_delete(cli):
    _json(cli("apps", "create", "Acme", "--json"))
    created = cli("users", "create", "--app", "1", "--login", "alice1", "--full-name", "Alice",
                  input="password123\npassword123\n")
    assert created.exit_code == 0 and "created user" in created.output
    user_id = created.output.split("created user ")[1].split()[0]
    dup = cli("users", "create", "--app", "1", "--login", "alice1", "--password", "password123")
    assert dup.exit_code == 1 and "login: has already been taken" in dup.output
    assert cli("users", "delete", user_id, "--app", "1", "--yes").exit_code == 0
    again = cli("users", "delete", user_id, "--app", "1", "--yes")
    assert again.exit_code == 1 and "not found" in again.output.lower()


def test_export_streams_an_apps_or_a_dialogs_history(cli, env, store):
    _json(cli("apps", "create", "Acme", "--json"))
    _json(cli("apps", "create", "Other", "--json"))

    async def seed():
        services = store(Settings(_env_file=None, rate_limits={"messages_per_user": ""}))
        users = [await services.users.signup(app, UserDraft(login=f"{name}x1", password="password123"))
                 for app, name in ((1, "ann"), (1, "bob"), (2, "eve"))]
        ann, bob, eve = (Requester(app_id=u.app_id, user_id=u.id) for u in users)
        one, _ = await services.dialogs.create(ann, DialogDraft(type=DialogType.GROUP, name="g",
                                                                occupants_ids=(bob.user_id,)))
        two, _ = await services.dialogs.create(bob, DialogDraft(type=DialogType.GROUP, name="h",
                                                                occupants_ids=(ann.user_id,)))
        other, _ = await services.dialogs.create(eve, DialogDraft(type=DialogType.GROUP, name="o"))
        for i in range(1203):  # more than two export pages
            await services.messages.send(ann, draft_from_params(
                {"chat_dialog_id": one.dialog.id, "message": f"m{i}"}))
        await services.messages.send(bob, draft_from_params(
            {"chat_dialog_id": two.dialog.id, "message": "in two"}))
        await services.messages.send(eve, draft_from_params(
            {"chat_dialog_id": other.dialog.id, "message": "secret"}))
        return one.dialog.id, other.dialog.id

    one, other = asyncio.run(seed())
    result = cli("export", "--app", "1")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1204 and "1204 messages exported" in result.stderr
    assert [m["message"] for m in lines[:3]] == ["m0", "m1", "m2"] and lines[-1]["message"] == "in two"
    assert "secret" not in result.stdout
    out = env / "one.jsonl"
    result = cli("export", "--app", "1", "--dialog", one, "-o", str(out))
    assert result.exit_code == 0
    assert [json.loads(line)["message"] for line in out.read_text().splitlines()] == \
        [f"m{i}" for i in range(1203)]
    result = cli("export", "--app", "1", "--dialog", other)
    assert result.exit_code == 1 and "not found" in result.output.lower()


def test_indexes(cli):
    result = cli("indexes")
    assert result.exit_code == 0 and "indexes ensured" in result.output


def test_wrong_settings_are_named(cli, monkeypatch):
    monkeypatch.setenv("CHAT_HTTP__PORT", "not-a-port")
    result = cli("apps", "list")
    assert result.exit_code == 1 and "http.port" in result.output and "Traceback" not in result.output


def test_an_unreachable_mongodb_is_said(env, monkeypatch):
    from tests.e2e.conftest import free_port

    monkeypatch.setenv("CHAT_MONGO__URL", f"mongodb://127.0.0.1:{free_port()}/")
    monkeypatch.setenv("CHAT_MONGO__TIMEOUT_MS", "300")
    result = CliRunner().invoke(main, ["apps", "list"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "the store does not answer (CHAT_MONGO__URL)" in result.output
    assert "Traceback" not in result.output


def test_rotate_keys_of_the_default_app_rewrites_its_admin_key_file(cli, env, store):
    _json(cli("apps", "create", "Default", "--id", "9", "--json"))  # the default app (CHAT_APP__ID)
    _json(cli("apps", "create", "Other", "--json"))
    path = env / "data" / "admin-api-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("the-first-key\n")
    path.chmod(0o644)
    rotated = _json(cli("apps", "rotate-keys", "9", "--yes", "--json"))
    assert path.read_text().strip() == rotated["admin_api_key"]
    assert path.stat().st_mode & 0o777 == 0o600
    _json(cli("apps", "rotate-keys", "10", "--yes", "--json"))  # another app: the file is not its
    assert path.read_text().strip() == rotated["admin_api_key"]
    path.unlink()
    _json(cli("apps", "rotate-keys", "9", "--yes", "--json"))
    assert not path.exists()  # kept true, never made by a rotation
