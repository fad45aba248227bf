"""What every provider sender does: start (credentials, connections), send one job, close.

`send` returns normally when the provider accepted the notification and otherwise raises one of
push.errors: TemporaryPushError, PermanentPushError or TokenRejected.
"""
from __future__ import annotations

import abc

from models.push import PushJob


class Sender(abc.ABC):
    name: str = "provider"
    channels: tuple[str, ...] = ()

    async def start(self) -> None:
        """Loads credentials and opens clients; raises when the configuration is unusable."""

    async def close(self) -> None:
        """Closes clients."""

    @abc.abstractmethod
    async def send(self, job: PushJob) -> None:
        ...
