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
    setup_logging(settings.log_level)
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
    setup_logging(settings.log_level)
    if settings.mongo.url is None or not settings.mongo.url.get_secret_value():
        raise click.UsageError("push-worker needs CHAT_MONGO__URL: the embedded in-memory store "
                               "belongs to one process, so its queue cannot be shared")
    from chatbridge import wiring

    wiring.push_worker(settings, workers, fanout)


@main.command("vapid-keys")
@click.option("--force", is_flag=True, help="Replace an existing key file (subscriptions made "
                                            "with the old public key stop working).")
def vapid_keys(force: bool) -> None:
    """Create the WebPush VAPID key file if absent and print the public key for browsers."""
    from push.vapid import application_server_key, generate_key_file, load_vapid

    settings = Settings()
    webpush = settings.push.webpush
    if webpush.vapid_private_key and webpush.vapid_private_key.get_secret_value() and not force:
        vapid = load_vapid(webpush)
        click.echo("VAPID key given in CHAT_PUSH__WEBPUSH__VAPID_PRIVATE_KEY (no file written)")
    else:
        vapid, created = generate_key_file(webpush.vapid_private_key_file, force=force)
        click.echo(f"{'created' if created else 'kept existing'} {webpush.vapid_private_key_file}")
    click.echo(f"applicationServerKey (public): {application_server_key(vapid)}")


if __name__ == "__main__":  # pragma: no cover
    main()
