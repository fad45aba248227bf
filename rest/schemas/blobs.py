"""Blob ↔ wire JSON (ConnectyCube storage API)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from models.blobs import Blob, UploadAccess
from rest.schemas.common import iso


def blob_to_json(blob: Blob, access: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": blob.id,
        "uid": blob.uid,
        "content_type": blob.content_type,
        "name": blob.name,
        "size": blob.size,
        "public": blob.public,
        "created_at": iso(blob.created_at),
        "updated_at": iso(blob.updated_at),
        "blob_status": "complete" if blob.is_complete else None,
        "set_completed_at": iso(blob.completed_at),
    }
    if access is not None:
        data["blob_object_access"] = access
    return data


def write_access_to_json(blob: Blob, access: UploadAccess) -> dict[str, Any]:
    return {
        "id": blob.id,
        "blob_id": blob.id,
        "expires": iso(access.expires_at),
        "object_access_type": "Write",
        "params": access.url,
    }


def read_access_to_json(blob: Blob, download_url: str | None = None,
                        expires: datetime | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": blob.id, "blob_id": blob.id, "object_access_type": "Read"}
    if download_url is not None:
        data["download_url"] = download_url
        data["expires"] = iso(expires)
    return data
