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


if __name__ == "__main__":  # pragma: no cover
    main()
