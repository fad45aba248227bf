"""The Blob entity (a document of the `blobs` collection) and its write access."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

STATUS_NEW = "new"
STATUS_COMPLETE = "complete"


class Blob(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int = Field(alias="_id")
    uid: str
    app_id: int
    user_id: int
    name: str
    content_type: str
    size: int | None = None  # set by the upload
    public: bool = False
    status: str = STATUS_NEW
    created_at: datetime
    updated_at: datetime
    uploaded_at: datetime | None = None
    completed_at: datetime | None = None
    upload_expires_at: datetime | None = None
    expected_size: int | None = None  # declared up front (XEP-0363 slots): the upload must match

    @property
    def is_uploaded(self) -> bool:
        return self.uploaded_at is not None

    @property
    def is_complete(self) -> bool:
        return self.status == STATUS_COMPLETE

    @property
    def file_key(self) -> str:
        """Where the bytes live in the FileStore."""
        return f"{self.app_id}/{self.uid}"


@dataclass(frozen=True)
class UploadAccess:
    """The one-time upload URL handed out by create (`blob_object_access`, type Write)."""

    url: str
    expires_at: datetime
    token: str = field(default="", repr=False)  # the one-time credential inside `url`


# -- commands ------------------------------------------------------------------------------------
class BlobDraft(BaseModel):
    """A new blob: its display name and declared type (checked and cleaned by the service)."""
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    content_type: str | None = None  # None: application/octet-stream
    public: bool = False
    size: int | None = None  # declared size: the upload must be exactly this long (None: any)


class BlobChanges(BaseModel):
    """An owner's change: only the given fields (`model_fields_set`) change; `public=None` given
    keeps the current value. `new` hands out a fresh upload URL (the content will be replaced)."""
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    content_type: str | None = None
    public: bool | None = None
    new: bool = False


@dataclass(frozen=True)
class BlobQuery:
    """A page of the caller's own blobs, newest first (`per_page` is capped by the settings)."""

    page: int = 1
    per_page: int = 10
