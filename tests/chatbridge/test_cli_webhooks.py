"""`chatbridge webhooks list|add|remove|rotate-secret` on a store of their own (the MongoDB path:
`Direct`, through CliRunner, with the fixtures of test_cli.py), and once through a running
`chatbridge serve` (the loopback path, with test_cli_loopback.py's server)."""
from __future__ import annotations

import asyncio
import json

from config.settings import Settings
from tests.chatbridge.test_cli import _json, cli, env, store  # noqa: F401 - the fixtures
from tests.chatbridge.test_cli_loopback import cli as loopback_cli
from tests.chatbridge.test_cli_loopback import server  # noqa: F401 - the fixture

URL = "https://93.184.216.34/hook"  # a public address: no DNS needed


def test_add_list_rotate_and_remove(cli, store):
    _json(cli("apps", "create", "Acme", "--json"))
    _json(cli("apps", "create", "Other", "--json"))
    made = _json(cli("webhooks", "add", URL, "--events", "message_created,dialog_updated",
                     "--description", "bot", "--app", "1", "--json"))
    assert made["url"] == URL and made["events"] == ["message_created", "dialog_updated"]
    assert made["description"] == "bot" and len(made["secret"]) >= 16
    listed = _json(cli("webhooks", "list", "--app", "1", "--json"))
    assert [h["id"] for h in listed] == [made["id"]] and "secret" not in listed[0]
    assert _json(cli("webhooks", "list", "--app", "2", "--json")) == []  # its own app's only
    human = cli("webhooks", "list", "--app", "1")
    assert human.exit_code == 0 and "93.184.216.34" in human.output and "bot" in human.output
    assert made["secret"] not in human.output

    rotated = _json(cli("webhooks", "rotate-secret", str(made["id"]), "--app", "1",
                        "--grace-seconds", "300", "--json"))
    assert rotated["secret"] != made["secret"] and rotated["previous_secret_until"]

    async def check():
        from models.requester import admin

        services = store(Settings(_env_file=None))
        hook = await services.webhooks.get(admin(1), made["id"])
        assert hook.secret == rotated["secret"] and hook.previous_secret == made["secret"]

    asyncio.run(check())
    human = cli("webhooks", "rotate-secret", str(made["id"]), "--app", "1")
    assert human.exit_code == 0 and "secret:" in human.output and "shown now only" in human.output

    wrong = cli("webhooks", "remove", str(made["id"]), "--app", "2", "--yes")
    assert wrong.exit_code == 1 and "Traceback" not in wrong.output  # another app's webhook
    refused = cli("webhooks", "remove", str(made["id"]), "--app", "1", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert len(_json(cli("webhooks", "list", "--app", "1", "--json"))) == 1
    removed = cli("webhooks", "remove", str(made["id"]), "--app", "1", "--yes")
    assert removed.exit_code == 0 and f"deleted webhook {made['id']}" in removed.output
    assert _json(cli("webhooks", "list", "--app", "1", "--json")) == []


def test_refused_urls_and_unknown_things_are_one_line_errors(cli):
    _json(cli("apps", "create", "Acme", "--json"))
    for args, text in [(("add", "https://10.1.2.3/x", "--events", "*"), "public address"),
                       (("add", "http://93.184.216.34/x", "--events", "*"), "https"),
                       (("add", URL, "--events", "no_such_event"), "events"),
                       (("remove", "99", "--yes"), "not found"),
                       (("rotate-secret", "99"), "not found")]:
        result = cli("webhooks", *args, "--app", "1")
        assert result.exit_code == 1, (args, result.output)
        assert text in result.output.lower() and "Traceback" not in result.output, result.output
    result = cli("webhooks", "list", "--app", "7")
    assert result.exit_code == 1 and "Application not found" in result.output
    assert _json(cli("webhooks", "list", "--app", "1", "--json")) == []


def test_through_a_running_serve(server):  # noqa: F811
    # the embedded store's default application (CHAT_APP__ID 1) lives in the serve process
    made = loopback_cli(server, "webhooks", "add", URL, "--events", "*", "--app", "1", "--json")
    assert made.returncode == 0, made.stderr
    hook = json.loads(made.stdout)
    assert hook["secret"] and hook["events"] == ["*"]
    listed = loopback_cli(server, "webhooks", "list", "--app", "1", "--json")
    assert [h["id"] for h in json.loads(listed.stdout)] == [hook["id"]]
    refused = loopback_cli(server, "webhooks", "add", "https://127.0.0.1/x", "--events", "*",
                           "--app", "1")
    assert refused.returncode == 1 and "public address" in refused.stderr
    assert "Traceback" not in refused.stderr
    rotated = loopback_cli(server, "webhooks", "rotate-secret", str(hook["id"]), "--app", "1",
                           "--json")
    assert rotated.returncode == 0 and json.loads(rotated.stdout)["secret"] != hook["secret"]
    removed = loopback_cli(server, "webhooks", "remove", str(hook["id"]), "--app", "1", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(loopback_cli(server, "webhooks", "list", "--app", "1",
                                   "--json").stdout) == []
