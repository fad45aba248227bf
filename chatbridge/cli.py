"""The `chatbridge` command."""
from __future__ import annotations

import click

from config.logging import setup_logging
from config.settings import Settings


@click.group()
def main() -> None:
    """chatbridge: a self-hostable chat backend speaking the ConnectyCube protocol."""


@main.command()
def serve() -> None:
    """Run the service in the foreground (REST API, XMPP bridge, push worker)."""
    settings = Settings()
    setup_logging(settings.log_level, settings.log_format)
    from chatbridge import wiring

    wiring.serve(settings)


@main.command("push-worker")
@click.option("--workers", type=int, default=None, help="Worker loops (default: push.workers).")
@click.option("--fanout/--no-fanout", default=False, show_default=True,
              help="Also turn new messages into push jobs. Leave it to `chatbridge serve`, which "
                   "knows who is online, unless no serve process runs a fan-out.")
def push_worker(workers: int | None, fanout: bool) -> None:
    """Run push workers alone (scale delivery out; they share the MongoDB queue)."""
    settings = Settings()
    setup_logging(settings.log_level, settings.log_format)
    if settings.mongo.url is None or not settings.mongo.url.get_secret_value():
        raise click.UsageError("push-worker needs CHAT_MONGO__URL: the embedded in-memory store "
                               "belongs to one process, so its queue cannot be shared")
    from chatbridge import wiring

    wiring.push_worker(settings, workers, fanout)


@main.command("webhook-worker")
@click.option("--workers", type=int, default=None, help="Delivery loops (default: webhooks.workers).")
@click.option("--fanout/--no-fanout", default=True, show_default=True,
              help="Also turn outbox events into deliveries (idempotent: several processes may).")
def webhook_worker(workers: int | None, fanout: bool) -> None:
    """Run webhook delivery alone (it shares the MongoDB queue with `serve`'s)."""
    settings = Settings()
    setup_logging(settings.log_level, settings.log_format)
    if settings.mongo.url is None or not settings.mongo.url.get_secret_value():
        raise click.UsageError("webhook-worker needs CHAT_MONGO__URL: the embedded in-memory "
                               "store belongs to one process, so its queue cannot be shared")
    from chatbridge import wiring

    wiring.webhook_worker(settings, workers, fanout)


@main.command("vapid-keys")
@click.option("--rotate", is_flag=True, help="Replace the key with a new one (subscriptions made "
                                             "with the old public key stop working: browsers "
                                             "must subscribe again).")
def vapid_keys(rotate: bool) -> None:
    """Print the WebPush VAPID public key for browsers (`applicationServerKey`), or rotate it.

    The key is the one the settings give (CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY, or the key file
    if it exists), else the one kept in the store, created at the first start."""
    import asyncio

    from push.vapid import application_server_key, generate_key_file, load_vapid

    settings = Settings()
    webpush = settings.push.webpush
    inline = webpush.vapid_private_key and webpush.vapid_private_key.get_secret_value()
    if inline:
        if rotate:
            raise click.UsageError("the key is given in CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY: "
                                   "change that setting to rotate it")
        vapid = load_vapid(webpush)
        click.echo("key: CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY")
    elif webpush.vapid_private_key_file.is_file():
        vapid, _ = generate_key_file(webpush.vapid_private_key_file, force=rotate)
        click.echo(f"key: {'replaced ' if rotate else ''}{webpush.vapid_private_key_file}")
    elif settings.mongo.url is None or not settings.mongo.url.get_secret_value():
        raise click.UsageError(
            "no key in the settings and no MongoDB (CHAT_MONGO__URL): with the embedded store "
            "the key lives in the running `chatbridge serve` process, is new at every start, "
            "and its public key is in that process's log (\"WebPush applicationServerKey\"). "
            "For a key that lasts, set CHAT_MONGO__URL or "
            "CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY(_FILE).")
    else:
        from chatbridge import wiring

        pem = asyncio.run(wiring.stored_webpush_key(settings, rotate))
        vapid = load_vapid(webpush, pem)
        click.echo(f"key: {'rotated, ' if rotate else ''}kept in the store")
        if rotate:
            click.echo("running processes use the new key after their next start")
    click.echo(f"applicationServerKey (public): {application_server_key(vapid)}")


# the operators' commands (chatbridge/operate.py, chatbridge/doctor.py; README "Operating")
from chatbridge import doctor, operate  # noqa: E402

main.add_command(operate.apps)
main.add_command(operate.users)
main.add_command(operate.webhooks)
main.add_command(operate.indexes)
main.add_command(operate.export)
main.add_command(doctor.doctor)


if __name__ == "__main__":  # pragma: no cover
    main()
