"""The User entity (a document of the `users` collection)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class User(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int = Field(alias="_id")
    app_id: int
    login: str | None = None
    email: str | None = None
    full_name: str | None = None
    phone: str | None = None
    website: str | None = None
    custom_data: str | None = None
    external_user_id: int | None = None
    external_id: str | None = None
    facebook_id: str | None = None
    twitter_id: str | None = None
    blob_id: int | None = None
    avatar: str | None = None
    user_tags: list[str] = Field(default_factory=list)
    timezone: int | None = None
    is_guest: bool = False
    password_hash: str | None = None
    created_at: datetime
    updated_at: datetime
    last_request_at: datetime | None = None


class Session(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: int
    app_id: int
    user_id: int = 0
    token: str = ""  # only set right after creation; the store keeps sha256(token)
    token_hash: str = Field(alias="_id")
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    is_guest: bool = False
