"""vCards (XEP-0054 `vcard-temp`) in the domain: what a user's card says, read from their
profile, and what the owner may change through it."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class VCard:
    """FN = `full_name`, NICKNAME = `login`, PHOTO = the avatar: `photo_url` (EXTVAL: the blob's
    download URL, or the profile's own http(s) URL) and, for a small image blob of the app,
    its bytes (`photo_data`, BINVAL)."""

    full_name: str | None = None
    nickname: str | None = None
    photo_url: str | None = None
    photo_type: str | None = None
    photo_data: bytes | None = None


class VCardChanges(BaseModel):
    """The owner's vCard set: only the fields given (`model_fields_set`) change. `photo_data`
    (BINVAL, with its `photo_type`) becomes a new public blob and the avatar; a given `None`
    clears the avatar."""
    model_config = ConfigDict(frozen=True)

    full_name: str | None = None
    photo_type: str | None = None
    photo_data: bytes | None = None
