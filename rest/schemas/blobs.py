"""Blobs on the wire (ConnectyCube storage API): the lax `blob` objects of create / update, the
list and complete parameters → the commands of models/blobs.py, and Blob ↔ JSON."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from models.blobs import Blob, BlobChanges, BlobDraft, BlobQuery, UploadAccess
from models.errors import InvalidError, NotFoundError
from models.lax import cast_int, parse_flag
from rest.schemas.common import iso, read_body

NOT_FOUND = "Blob not found"


class BlobBody(BaseModel):
    """`{name, content_type, public, new}`: flags as `1`/`0`, `true`/`false` or JSON booleans
    (query strings and form bodies carry them as text); a name may be a number."""
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    content_type: str | None = None
    public: bool | None = None
    new: bool | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str | None:
        # anything but text or a number names nothing: the service answers "can't be blank"
        if value is None or isinstance(value, (dict, list, bool)):
            return None
        return str(value)

    @field_validator("content_type", mode="before")
    @classmethod
    def _content_type(cls, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise InvalidError("must be a MIME type (type/subtype)", field="content_type")

    @field_validator("public", "new", mode="before")
    @classmethod
    def _flag(cls, value: Any, info: ValidationInfo) -> bool | None:
        return parse_flag(value, info.field_name, None, message="must be a boolean")

    def to_draft(self) -> BlobDraft:
        return BlobDraft(name=self.name, content_type=self.content_type, public=bool(self.public))

    def to_changes(self) -> BlobChanges:
        given = {name: getattr(self, name) for name in ("name", "content_type", "public")
                 if name in self.model_fields_set}
        return BlobChanges(**given, new=bool(self.new))


def blob_body(value: Any) -> BlobBody:
    if not isinstance(value, dict):
        raise InvalidError("must be an object", field="blob")
    return read_body(BlobBody, value)


def blob_id_from_path(raw: str) -> int:
    """The numeric `{key}` of complete / delete; anything else names no blob."""
    try:
        return cast_int(raw)
    except (ValueError, TypeError) as exc:
        raise NotFoundError(NOT_FOUND) from exc


def declared_size(body: dict[str, Any]) -> int | None:
    """The `size` of a complete request, at the top level or inside `blob`."""
    inner = body.get("blob")
    size = inner["size"] if isinstance(inner, dict) and "size" in inner else body.get("size")
    if size in (None, ""):
        return None
    if isinstance(size, (dict, list)):
        raise InvalidError("must be an integer", field="size")
    try:
        return cast_int(size)
    except (ValueError, TypeError) as exc:
        raise InvalidError("must be an integer", field="size") from exc


def blob_query(params: dict[str, Any]) -> BlobQuery:
    """`page` (or `current_page`) and `per_page`, both from 1."""
    try:
        page = cast_int(params.get("page") or params.get("current_page") or 1)
    except (ValueError, TypeError) as exc:
        raise InvalidError("must be an integer", field="page") from exc
    try:
        per_page = cast_int(params.get("per_page") or 10)
    except (ValueError, TypeError) as exc:
        raise InvalidError("must be an integer", field="per_page") from exc
    if page < 1:
        raise InvalidError("must be greater than 0", field="page")
    if per_page < 1:
        raise InvalidError("must be greater than 0", field="per_page")
    return BlobQuery(page=page, per_page=per_page)


def signed_expiry(raw: Any) -> int | None:
    """The `expires` of a signed download URL; unreadable is the same as absent."""
    if raw in (None, ""):
        return None
    try:
        return cast_int(raw)
    except (ValueError, TypeError):
        return None


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
