"""The Blob entity (a document of the `blobs` collection) and its write access."""
from __future__ import annotations

from dataclasses import dataclass
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
