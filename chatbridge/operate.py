"""`chatbridge apps|users|webhooks|indexes|export`: the operators' commands (README "Operating").

Each command reaches the deployment in one of two ways, through the same `OperatorService`
(models/services/operations.py):
- with a MongoDB store (`CHAT_MONGO__URL`), directly (`Direct`);
- with the embedded store, whose data lives in the running `chatbridge serve`, over that
  process's operator routes on loopback (`Loopback`, rest/views/operations.py), with the key it
  wrote to `{CHAT_DATA_DIR}/operator-key`.
Expected failures (server not running, wrong key, bad file, unknown application) end with a
one-line message and a non-zero exit code, never a traceback. Keys made by `apps create` and
`apps rotate-keys` are printed once, to stdout, and never logged.
"""
from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import click

from config.settings import Settings

OPERATOR_KEY_FILE = "operator-key"  # as models/services/container.py writes it
IMPORT_BATCH = 200  # rows per service call / request (under the routes' MAX_IMPORT_ROWS)
TIMEOUT = 30.0


class OperatorError(click.ClickException):
    """An expected failure: its message, exit code 1."""


def load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise OperatorError("the settings are wrong (CHAT_* variables, .env):\n"
                            + "\n".join(lines)) from None


# -- the two ways in ---------------------------------------------------------------------------
class Direct:
    """The `OperatorService` of a process of our own, on the MongoDB store."""

    kind = "direct"

    def __init__(self, services) -> None:
        self._services = services
        self._ops = services.operations

    async def _call(self, coro):
        from models.errors import ChatError
        from models.services.operations import error_text

        try:
            return await coro
        except ChatError as exc:
            raise OperatorError(error_text(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the driver's errors (no pymongo import here)
            if type(exc).__module__.split(".")[0] in ("pymongo", "motor"):
                raise OperatorError(f"the store does not answer (CHAT_MONGO__URL): "
                                    f"{type(exc).__name__}") from None
            raise

    async def create_app(self, title: str, app_id: int | None) -> dict[str, Any]:
        from rest.schemas.operations import app_keys_to_json

        return app_keys_to_json(await self._call(self._ops.create_app(title, app_id)))

    async def list_apps(self) -> list[dict[str, Any]]:
        from rest.schemas.operations import app_to_json

        return [app_to_json(app) for app in await self._call(self._ops.list_apps())]

    async def show_app(self, app_id: int) -> dict[str, Any]:
        from rest.schemas.operations import app_to_json

        return app_to_json(await self._call(self._ops.show_app(app_id)))

    async def rotate_keys(self, app_id: int, auth: bool) -> dict[str, Any]:
        from rest.schemas.operations import app_keys_to_json

        return app_keys_to_json(await self._call(self._ops.rotate_keys(app_id, auth)))

    async def import_users(self, app_id: int, rows: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        from rest.schemas.operations import import_results_to_json, import_row

        parsed = [import_row(line, user) for line, user in rows]
        results = await self._call(self._ops.import_users(app_id, parsed))
        return import_results_to_json(results)["results"]

    async def delete_user(self, app_id: int, user_id: int) -> None:
        await self._call(self._ops.delete_user(app_id, user_id))

    # webhooks: the `WebhookService` as the application's admin (its URL rules included)
    async def _hook_admin(self, app_id: int):
        from models.requester import admin

        await self._call(self._ops.show_app(app_id))  # 404 for an unknown application
        return admin(app_id)

    async def list_webhooks(self, app_id: int) -> list[dict[str, Any]]:
        from rest.schemas.webhooks import webhook_to_json

        caller = await self._hook_admin(app_id)
        return [webhook_to_json(h) for h in await self._call(self._services.webhooks.list(caller))]

    async def add_webhook(self, app_id: int, url: str, events: list[str],
                          description: str | None) -> dict[str, Any]:
        from rest.schemas.webhooks import webhook_draft, webhook_with_secret

        caller = await self._hook_admin(app_id)
        draft = await self._call(_async(webhook_draft, {"url": url, "events": events,
                                                        "description": description}))
        return webhook_with_secret(await self._call(self._services.webhooks.create(caller, draft)))

    async def remove_webhook(self, app_id: int, webhook_id: int) -> None:
        caller = await self._hook_admin(app_id)
        await self._call(self._services.webhooks.delete(caller, webhook_id))

    async def rotate_webhook_secret(self, app_id: int, webhook_id: int,
                                    grace: int) -> dict[str, Any]:
        from rest.schemas.webhooks import webhook_with_secret

        caller = await self._hook_admin(app_id)
        return webhook_with_secret(await self._call(
            self._services.webhooks.rotate_secret(caller, webhook_id, grace)))

    async def export(self, app_id: int, dialog_id: str | None) -> AsyncIterator[bytes]:
        import orjson

        from rest.schemas.admin import admin_message_to_json

        messages = self._ops.export_messages(app_id, dialog_id)
        while True:
            message = await self._call(anext(messages, None))
            if message is None:
                return
            yield orjson.dumps(admin_message_to_json(message)) + b"\n"

    async def ensure_indexes(self) -> str:
        await self._call(self._services.database.ensure_indexes())
        return f"indexes ensured on database {self._services.settings.mongo.database!r}"

    async def close(self) -> None:
        self._services.database.close()


async def _async(function, *args):
    return function(*args)


class Loopback:
    """The operator routes of the `chatbridge serve` next to us (the embedded store)."""

    kind = "loopback"

    def __init__(self, base_url: str, key: str) -> None:
        import aiohttp

        self._base = base_url.rstrip("/")
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=TIMEOUT),
            headers={"CB-Operator-Key": key})

    async def _request(self, method: str, path: str, **kwargs) -> Any:
        import aiohttp

        try:
            async with self._http.request(method, self._base + path, **kwargs) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise OperatorError(self._refusal(resp.status, body))
                return json.loads(body) if body else None
        except aiohttp.ClientConnectionError:
            raise OperatorError(self._not_running()) from None
        except asyncio.TimeoutError:
            raise OperatorError(f"{self._base} did not answer in {TIMEOUT:.0f} s") from None

    def _not_running(self) -> str:
        return (f"nothing answers at {self._base}: is `chatbridge serve` running? With the "
                "embedded store (no CHAT_MONGO__URL) the data lives in that process, so the "
                "commands go through it; start it (`make run`) or set CHAT_MONGO__URL.")

    def _refusal(self, status: int, body: bytes) -> str:
        try:
            errors = json.loads(body)["errors"]
            text = "; ".join(f"{m}" if k == "base" else f"{k}: {m}"
                             for k, ms in errors.items() for m in ms)
        except (ValueError, KeyError, TypeError, AttributeError):
            text = body[:200].decode(errors="replace") or f"HTTP {status}"
        if status == 401:
            text += (" (the key in {data_dir}/operator-key is not the one the running "
                     "`chatbridge serve` uses: was it started with another CHAT_DATA_DIR?)")
        return text

    async def create_app(self, title: str, app_id: int | None) -> dict[str, Any]:
        return await self._request("POST", "/admin/apps", json={"title": title, "id": app_id})

    async def list_apps(self) -> list[dict[str, Any]]:
        return (await self._request("GET", "/admin/apps"))["items"]

    async def show_app(self, app_id: int) -> dict[str, Any]:
        return await self._request("GET", f"/admin/apps/{app_id}")

    async def rotate_keys(self, app_id: int, auth: bool) -> dict[str, Any]:
        return await self._request("POST", f"/admin/apps/{app_id}/keys",
                                   json={"auth": 1 if auth else 0})

    async def import_users(self, app_id: int, rows: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        body = {"users": [{"line": line, "user": user} for line, user in rows]}
        return (await self._request("POST", f"/admin/apps/{app_id}/users/import",
                                    json=body))["results"]

    async def delete_user(self, app_id: int, user_id: int) -> None:
        await self._request("DELETE", f"/admin/apps/{app_id}/users/{user_id}")

    # webhooks: the `/admin/webhooks…` routes, with the operator's key and `?app_id=`
    async def list_webhooks(self, app_id: int) -> list[dict[str, Any]]:
        return (await self._request("GET", "/admin/webhooks", params={"app_id": app_id}))["items"]

    async def add_webhook(self, app_id: int, url: str, events: list[str],
                          description: str | None) -> dict[str, Any]:
        body = {"url": url, "events": events, "description": description}
        return await self._request("POST", "/admin/webhooks", params={"app_id": app_id}, json=body)

    async def remove_webhook(self, app_id: int, webhook_id: int) -> None:
        await self._request("DELETE", f"/admin/webhooks/{webhook_id}", params={"app_id": app_id})

    async def rotate_webhook_secret(self, app_id: int, webhook_id: int,
                                    grace: int) -> dict[str, Any]:
        return await self._request("POST", f"/admin/webhooks/{webhook_id}/secret",
                                   params={"app_id": app_id}, json={"keep_previous_seconds": grace})

    async def export(self, app_id: int, dialog_id: str | None) -> AsyncIterator[bytes]:
        import aiohttp

        params = {"chat_dialog_id": dialog_id} if dialog_id else {}
        try:
            async with self._http.get(f"{self._base}/admin/apps/{app_id}/export",
                                      params=params) as resp:
                if resp.status >= 400:
                    raise OperatorError(self._refusal(resp.status, await resp.read()))
                async for line in resp.content:
                    yield line
        except aiohttp.ClientConnectionError:
            raise OperatorError(self._not_running()) from None

    async def ensure_indexes(self) -> str:
        await self._request("GET", "/admin/apps")  # the server answers, with our key
        return ("the embedded store's indexes are made by `chatbridge serve` at each start "
                "(it is running): nothing to do")

    async def close(self) -> None:
        await self._http.close()


def _loopback_url(settings: Settings) -> str:
    host = settings.http.host
    try:
        if not ipaddress.ip_address(host).is_loopback:
            host = "127.0.0.1"  # 0.0.0.0, :: or a public address: the same process on loopback
    except ValueError:
        host = "127.0.0.1" if host != "localhost" else host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http.port}"


async def open_backend(ctx: click.Context, settings: Settings, server: str | None):
    """`Direct` on MongoDB, else `Loopback` to the running server. Tests hand a
    `build_services(settings)` in `ctx.obj["services"]` (their own store)."""
    factory: Callable | None = (ctx.obj or {}).get("services") if isinstance(ctx.obj, dict) else None
    if factory is not None:
        return Direct(factory(settings))
    if server is None and settings.mongo.url is not None and settings.mongo.url.get_secret_value():
        from chatbridge import wiring

        return Direct(await wiring.operator_services(settings))
    path = settings.data_dir / OPERATOR_KEY_FILE
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        raise OperatorError(
            f"no {path}: with the embedded store (no CHAT_MONGO__URL) the commands go through "
            "the running `chatbridge serve`, which writes its operator key there at start. Start "
            "it (`make run`) with the same CHAT_DATA_DIR, or set CHAT_MONGO__URL.") from None
    except OSError as exc:
        raise OperatorError(f"cannot read {path}: {exc.strerror} (run as the user that runs "
                            "`chatbridge serve`)") from None
    return Loopback(server or _loopback_url(settings), key)


def run(ctx: click.Context, server: str | None, work: Callable[[Any], Any]) -> Any:
    """Opens the backend, runs `work(backend)` (a coroutine function), closes it."""
    settings = load_settings()

    async def main() -> Any:
        backend = await open_backend(ctx, settings, server)
        try:
            return await work(backend)
        finally:
            await backend.close()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        raise OperatorError("interrupted") from None


server_option = click.option(
    "--server", metavar="URL", default=None,
    help="The running `chatbridge serve` to go through (default: http://127.0.0.1:<http.port> "
         "when there is no CHAT_MONGO__URL).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
app_option = click.option("--app", "app_id", type=int, default=None,
                          help="The application's id (default: CHAT_APP__ID).")


def _app(app_id: int | None) -> int:
    return app_id if app_id is not None else load_settings().app.id


def _console():
    from rich.console import Console

    # no markup: titles, logins and file contents are printed as they are ("[/]" included)
    return Console(highlight=False, soft_wrap=True, markup=False)


def _print_app(app: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for name in ("id", "title", "auth_key", "created_at", "has_admin_api_key", "users"):
        if name in app:
            table.add_row(name, str(app[name]))
    _console().print(table)


def _print_keys(keys: dict[str, Any], what: str) -> None:
    console = _console()
    console.print(f"{what} application {keys['app']['id']} ({keys['app']['title']})")
    for name in ("auth_key", "auth_secret", "admin_api_key"):
        if name in keys:
            console.print(f"  {name}: {keys[name]}")
    console.print("These keys are shown now only: keep them (a lost admin key is replaced with "
                  "`chatbridge apps rotate-keys`).", style="bold")


# -- apps ----------------------------------------------------------------------------------------
@click.group()
def apps() -> None:
    """Applications (tenants) and their keys."""


@apps.command("create")
@click.argument("title")
@click.option("--id", "app_id", type=int, default=None, help="Its id (default: the next free one).")
@server_option
@json_option
@click.pass_context
def apps_create(ctx, title: str, app_id: int | None, server, as_json: bool) -> None:
    """Create an application; prints its auth key, auth secret and admin key once."""
    keys = run(ctx, server, lambda b: b.create_app(title, app_id))
    click.echo(json.dumps(keys)) if as_json else _print_keys(keys, "created")


@apps.command("list")
@server_option
@json_option
@click.pass_context
def apps_list(ctx, server, as_json: bool) -> None:
    """Every application (no secrets)."""
    items = run(ctx, server, lambda b: b.list_apps())
    if as_json:
        click.echo(json.dumps(items))
        return
    from rich.table import Table

    table = Table("id", "title", "auth_key", "created_at", "admin key")
    for app in items:
        table.add_row(str(app["id"]), app["title"], app["auth_key"], str(app["created_at"]),
                      "set" if app["has_admin_api_key"] else "none")
    _console().print(table)


@apps.command("show")
@click.argument("app_id", type=int)
@server_option
@json_option
@click.pass_context
def apps_show(ctx, app_id: int, server, as_json: bool) -> None:
    """One application and its number of users."""
    app = run(ctx, server, lambda b: b.show_app(app_id))
    click.echo(json.dumps(app)) if as_json else _print_app(app)


@apps.command("rotate-keys")
@click.argument("app_id", type=int)
@click.option("--auth", is_flag=True, help="Also a new auth key and secret (clients built with "
                                           "the old ones can no longer open sessions).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@server_option
@json_option
@click.pass_context
def apps_rotate_keys(ctx, app_id: int, auth: bool, yes: bool, server, as_json: bool) -> None:
    """A new admin key (the old one stops working at once) and, with --auth, a new auth key and
    secret; prints them once."""
    if not yes:
        click.confirm(f"Replace the {'admin, auth key and secret' if auth else 'admin key'} of "
                      f"application {app_id}? The old ones stop working", abort=True)
    keys = run(ctx, server, lambda b: b.rotate_keys(app_id, auth))
    click.echo(json.dumps(keys)) if as_json else _print_keys(keys, "new keys of")


# -- users ---------------------------------------------------------------------------------------
@click.group()
def users() -> None:
    """Users of an application: create, import (CSV or JSON lines), delete."""


@users.command("create")
@app_option
@click.option("--login", default=None)
@click.option("--email", default=None)
@click.option("--full-name", default=None)
@click.option("--password", default=None, help="Asked for when not given (not echoed).")
@server_option
@click.pass_context
def users_create(ctx, app_id, login, email, full_name, password, server) -> None:
    """Create one user, checked as `POST /users` checks a sign-up."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = {k: v for k, v in (("login", login), ("email", email), ("full_name", full_name),
                              ("password", password)) if v is not None}
    app = _app(app_id)
    (result,) = run(ctx, server, lambda b: b.import_users(app, [(1, user)]))
    if "error" in result:
        raise OperatorError(f"not created: {result['error']}")
    click.echo(f"created user {result['id']} in application {app}")


def _read_rows(text: io.TextIOWrapper, fmt: str) -> Iterator[tuple[int, Any]]:
    """(line, user or an error text) per row, streamed: the whole file is never in memory."""
    if fmt == "csv":
        reader = csv.DictReader(text)
        if not reader.fieldnames:
            return
        for row in reader:
            if None in row:
                yield reader.line_num, "more values than the header has columns"
                continue
            yield reader.line_num, {k.strip(): v for k, v in row.items()
                                    if k and v not in (None, "")}
        return
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError:
            yield number, "not a JSON object"


@users.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@app_option
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Default: from the file's extension (.csv; .jsonl / .ndjson / .json).")
@click.option("--batch", type=click.IntRange(1, 1000), default=IMPORT_BATCH, show_default=True,
              help="Rows per call.")
@server_option
@click.pass_context
def users_import(ctx, file: Path, app_id, fmt, batch: int, server) -> None:
    """Create users from a CSV file (a header row of user fields: login, email, password,
    full_name, phone, external_user_id, tag_list, ...) or JSON lines (one user object per line).
    Each row is checked as a sign-up; rejected rows are listed with their line numbers at the
    end. Exit code 1 when any row was rejected."""
    stdin = str(file) == "-"
    if fmt is None:
        suffix = file.suffix.lower()
        fmt = "csv" if suffix == ".csv" else "jsonl" if suffix in (".jsonl", ".ndjson", ".json") else None
        if fmt is None:
            raise click.UsageError("say --format csv or --format jsonl")
    app = _app(app_id)
    try:
        handle = sys.stdin.buffer if stdin else open(file, "rb")
    except OSError as exc:
        raise OperatorError(f"cannot read {file}: {exc.strerror}") from None
    total = None if stdin else file.stat().st_size
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    created, rejected = 0, []

    async def work(backend) -> None:
        nonlocal created
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        console = _console()
        console.stderr = True
        columns = [TextColumn("importing"), BarColumn(), DownloadColumn(),
                   TextColumn("{task.fields[created]} created, {task.fields[rejected]} rejected"),
                   TimeRemainingColumn()]
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("import", total=total, created=0, rejected=0)
            pending: list[tuple[int, Any]] = []

            async def flush() -> None:
                nonlocal created
                good = [(line, user) for line, user in pending if not isinstance(user, str)]
                rejected.extend((line, user) for line, user in pending if isinstance(user, str))
                for result in (await backend.import_users(app, good) if good else []):
                    if "error" in result:
                        rejected.append((result["line"], result["error"]))
                    else:
                        created += 1
                pending.clear()
                progress.update(task, completed=handle.tell() if not stdin else None,
                                created=created, rejected=len(rejected))

            try:
                for row in _read_rows(text, fmt):
                    pending.append(row)
                    if len(pending) >= batch:
                        await flush()
                if pending:
                    await flush()
            except (UnicodeDecodeError, csv.Error) as exc:
                raise OperatorError(f"{file}: not a readable {fmt} file ({exc})") from None

    try:
        run(ctx, server, work)
    finally:
        text.detach()
        if not stdin:
            handle.close()
    err = _console()
    err.stderr = True
    if rejected:
        from rich.table import Table

        rejected.sort()
        table = Table("line", "rejected because", title=f"{len(rejected)} rows rejected")
        for line, reason in rejected[:100]:
            table.add_row(str(line), reason)
        err.print(table)
        if len(rejected) > 100:
            err.print(f"... and {len(rejected) - 100} more")
    click.echo(f"{created} users created, {len(rejected)} rows rejected (application {app})")
    if rejected:
        ctx.exit(1)


@users.command("delete")
@click.argument("user_id", type=int)
@app_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@server_option
@click.pass_context
def users_delete(ctx, user_id: int, app_id, yes: bool, server) -> None:
    """Delete a user (as they delete their own account; their sessions end)."""
    app = _app(app_id)
    if not yes:
        click.confirm(f"Delete user {user_id} of application {app}?", abort=True)
    run(ctx, server, lambda b: b.delete_user(app, user_id))
    click.echo(f"deleted user {user_id} of application {app}")


# -- webhooks ------------------------------------------------------------------------------------
@click.group()
def webhooks() -> None:
    """An application's webhook endpoints (docs/webhooks.md)."""


def _print_webhook(hook: dict[str, Any]) -> None:
    console = _console()
    console.print(f"webhook {hook['id']}: {hook['url']}")
    console.print(f"  events: {','.join(hook['events'])}  enabled: {hook['enabled']}")
    if hook.get("description"):
        console.print(f"  description: {hook['description']}")
    if "secret" in hook:
        console.print(f"  secret: {hook['secret']}")
        if hook.get("previous_secret_until"):
            console.print(f"  the previous secret also signs until {hook['previous_secret_until']}")
        console.print("The secret is shown now only: keep it (a lost one is replaced with "
                      "`chatbridge webhooks rotate-secret`).", style="bold")


@webhooks.command("list")
@app_option
@server_option
@json_option
@click.pass_context
def webhooks_list(ctx, app_id, server, as_json: bool) -> None:
    """The application's webhook endpoints (no secrets)."""
    app = _app(app_id)
    items = run(ctx, server, lambda b: b.list_webhooks(app))
    if as_json:
        click.echo(json.dumps(items))
        return
    from rich.table import Table

    table = Table()
    for name in ("id", "url", "events", "enabled", "description"):
        table.add_column(name, overflow="fold")  # whole URLs, even on a narrow terminal
    for hook in items:
        table.add_row(str(hook["id"]), hook["url"], ",".join(hook["events"]),
                      str(hook["enabled"]), hook.get("description") or "")
    _console().print(table)


@webhooks.command("add")
@click.argument("url")
@click.option("--events", required=True, metavar="TYPES",
              help="Comma-separated event types (message_created,dialog_updated,...) or '*'.")
@click.option("--description", default=None)
@app_option
@server_option
@json_option
@click.pass_context
def webhooks_add(ctx, url: str, events: str, description, app_id, server, as_json: bool) -> None:
    """Add an endpoint (https on a public address); prints its signing secret once."""
    app = _app(app_id)
    types = [e.strip() for e in events.split(",") if e.strip()]
    hook = run(ctx, server, lambda b: b.add_webhook(app, url, types, description))
    click.echo(json.dumps(hook)) if as_json else _print_webhook(hook)


@webhooks.command("remove")
@click.argument("webhook_id", type=int)
@app_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@server_option
@click.pass_context
def webhooks_remove(ctx, webhook_id: int, app_id, yes: bool, server) -> None:
    """Delete an endpoint (and its queued deliveries and dead letters)."""
    app = _app(app_id)
    if not yes:
        click.confirm(f"Delete webhook {webhook_id} of application {app} and its deliveries?",
                      abort=True)
    run(ctx, server, lambda b: b.remove_webhook(app, webhook_id))
    click.echo(f"deleted webhook {webhook_id} of application {app}")


@webhooks.command("rotate-secret")
@click.argument("webhook_id", type=int)
@click.option("--grace-seconds", type=int, default=0, show_default=True,
              help="How long the previous secret keeps signing too.")
@app_option
@server_option
@json_option
@click.pass_context
def webhooks_rotate_secret(ctx, webhook_id: int, grace_seconds: int, app_id, server,
                           as_json: bool) -> None:
    """A new signing secret, printed once."""
    app = _app(app_id)
    hook = run(ctx, server, lambda b: b.rotate_webhook_secret(app, webhook_id, grace_seconds))
    click.echo(json.dumps(hook)) if as_json else _print_webhook(hook)


# -- indexes, export -----------------------------------------------------------------------------
@click.command()
@server_option
@click.pass_context
def indexes(ctx, server) -> None:
    """Create the store's indexes (idempotent; `chatbridge serve` also does it at start)."""
    click.echo(run(ctx, server, lambda b: b.ensure_indexes()))


@click.command()
@app_option
@click.option("--dialog", "dialog_id", default=None, help="Only this dialog's messages.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default=Path("-"), help="Where to write (default: stdout).")
@server_option
@click.pass_context
def export(ctx, app_id, dialog_id, output: Path, server) -> None:
    """The stored history of an application (or one dialog) as JSON lines, oldest first,
    streamed: one admin-API message object per line."""
    app = _app(app_id)
    to_stdout = str(output) == "-"
    try:
        sink = sys.stdout.buffer if to_stdout else open(output, "wb")
    except OSError as exc:
        raise OperatorError(f"cannot write {output}: {exc.strerror}") from None
    count = 0

    async def work(backend) -> None:
        nonlocal count
        async for line in backend.export(app, dialog_id):
            sink.write(line)
            count += 1
        sink.flush()

    try:
        run(ctx, server, work)
    finally:
        if not to_stdout:
            sink.close()
    click.echo(f"{count} messages exported", err=True)
