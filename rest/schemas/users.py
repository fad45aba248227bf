"""User ↔ wire JSON."""
from __future__ import annotations

from typing import Any

from models.users import Session, User
from rest.schemas.common import iso, unix


def user_to_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "full_name": user.full_name,
        "email": user.email,
        "login": user.login,
        "phone": user.phone,
        "website": user.website,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "last_request_at": iso(user.last_request_at),
        "external_user_id": user.external_user_id,
        "external_id": user.external_id,
        "facebook_id": user.facebook_id,
        "twitter_id": user.twitter_id,
        "blob_id": user.blob_id,
        "avatar": user.avatar,
        "custom_data": user.custom_data,
        "user_tags": ",".join(user.user_tags) if user.user_tags else None,
        "timezone": user.timezone,
        "is_guest": user.is_guest or None,
    }


def session_to_json(session: Session, user: User | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": session.id,
        "application_id": session.app_id,
        "user_id": session.user_id,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
        "ts": unix(session.created_at),
        "nonce": session.id,
    }
    if session.token:
        data["token"] = session.token
    if user is not None:
        data["user"] = user_to_json(user)
    return data
