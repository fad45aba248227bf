"""HTTP File Upload (XEP-0363) in the domain: a slot request (the command) and the slot handed
out (its PUT and GET URLs). A slot is a blob of the uploader's (models/blobs.py), public, with a
declared size and type that the upload must match."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class SlotRequest(BaseModel):
    """What a client asks a slot for: file name, exact size in bytes, MIME type (None: any)."""
    model_config = ConfigDict(frozen=True)

    filename: str | None = None
    size: int
    content_type: str | None = None


@dataclass(frozen=True)
class UploadSlot:
    """`put_url` takes the bytes once (a one-time token, until `expires_at`); `get_url` serves
    them to whoever has it (an unguessable capability URL, see docs/xmpp.md)."""

    blob_id: int
    put_url: str
    get_url: str
    expires_at: datetime
