"""Domain events. Services publish them only after the write they describe succeeded.

They are stored in the Mongo `outbox` collection by `OutboxPublisher` (models.storage.outbox),
from which the XMPP bridge relay and the push worker consume them.
"""
from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class Origin(BaseModel):
    """Where a change came from: the transport and, for XMPP, the id of the stanza that caused it.
    A consumer that already delivered the change itself (the bridge, for stanzas it handled)
    skips events of its own origin."""

    model_config = ConfigDict(frozen=True)

    transport: str  # "rest" | "xmpp"
    stanza_id: str | None = None


class Event(BaseModel):
    """`kind` names the event in the past tense: message_created, message_updated, ..."""

    kind: str
    app_id: int
    dialog_id: str | None = None
    sender_id: int = 0
    recipient_ids: list[int] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    origin: Origin | None = None


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None: ...

    async def publish_many(self, events: list[Event]) -> None:
        """Several events in one write (group commit), in order."""


class RecordingPublisher:
    """Keeps events in memory: for tests and for processes with no consumer."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def publish_many(self, events: list[Event]) -> None:
        self.events.extend(events)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]
