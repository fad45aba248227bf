"""Process settings: one `Settings`, environment prefix `CHAT_`, nested delimiter `__`.

Sections are plain BaseModels (nested BaseSettings misbehave with prefixes and .env files).
Secrets are SecretStr and must never be logged.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    # Public base URL used in links we hand out (blob upload/download URLs).
    # Empty = http://{host}:{port}
    public_url: str = ""
    max_body_bytes: int = 1024 * 1024  # JSON / form bodies
    cors_origins: list[str] = ["*"]

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class MongoSettings(BaseModel):
    url: SecretStr | None = None  # unset = embedded in-memory store (mongomock-motor)
    database: str = "chatbridge"
    timeout_ms: int = 5000


class AppSettings(BaseModel):
    """The default application, created at start-up when missing."""

    id: int = 1
    title: str = "chatbridge"
    auth_key: SecretStr = SecretStr("chatbridge-dev-auth-key")
    auth_secret: SecretStr = SecretStr("chatbridge-dev-auth-secret")


class SessionSettings(BaseModel):
    ttl_seconds: int = 2 * 60 * 60  # sliding: extended by each request
    guest_ttl_seconds: int = 24 * 60 * 60
    # refresh `updated_at`/expiry in the store at most this often per token (write amplification)
    touch_interval_seconds: int = 60


class XmppSettings(BaseModel):
    domain: str = "localhost"
    embedded: bool = True
    host: str = "127.0.0.1"
    c2s_port: int = 5222
    http_port: int = 5280
    component_port: int = 5347
    component_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))
    # HTTP Basic credentials the XMPP server uses for /xmpp-auth/check_password
    auth_user: str = "prosody"
    auth_password: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))

    @property
    def muc_domain(self) -> str:
        return f"muc.{self.domain}"


class BlobSettings(BaseModel):
    path: Path = Path("var/blobs")
    max_bytes: int = 100 * 1024 * 1024
    upload_ttl_seconds: int = 60 * 60


class LimitSettings(BaseModel):
    max_list_limit: int = 100
    max_ids_per_request: int = 100
    max_occupants: int = 1000
    max_message_bytes: int = 64 * 1024
    max_admins: int = 5


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHAT_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    http: HttpSettings = HttpSettings()
    mongo: MongoSettings = MongoSettings()
    app: AppSettings = AppSettings()
    session: SessionSettings = SessionSettings()
    xmpp: XmppSettings = XmppSettings()
    blobs: BlobSettings = BlobSettings()
    limits: LimitSettings = LimitSettings()
    data_dir: Path = Path("var")
    log_level: str = "INFO"
