"""Process settings: one `Settings`, environment prefix `CHAT_`, nested delimiter `__`.

Sections are plain BaseModels (nested BaseSettings misbehave with prefixes and .env files).
Secrets are SecretStr and must never be logged.
"""
from __future__ import annotations

import ipaddress
import re
import secrets
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import BaseModel, Field, SecretStr, field_validator
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
    # The admin API key (`CB-Administration-API-Key`) of the default application: stored hashed
    # at each start when set; unset, one is created at the first start and written to
    # `{data_dir}/admin-api-key` (mode 0600), never logged (models/services/apps.py).
    admin_api_key: SecretStr | None = None

    @field_validator("admin_api_key")
    @classmethod
    def _admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # empty = unset
        if len(value.get_secret_value()) < 16:
            raise ValueError("the admin API key must have at least 16 characters")
        return value


class SessionSettings(BaseModel):
    ttl_seconds: int = 2 * 60 * 60  # sliding: extended by each request
    guest_ttl_seconds: int = 24 * 60 * 60
    # refresh `updated_at`/expiry in the store at most this often per token (write amplification)
    touch_interval_seconds: int = 60
    # refresh tokens (POST /session/refresh): a login ends when its refresh token is unused this
    # long, and at the latest this long after the login (rotation never extends it)
    refresh_idle_seconds: int = Field(default=30 * 24 * 60 * 60, gt=0)
    refresh_absolute_seconds: int = Field(default=90 * 24 * 60 * 60, gt=0)


class ExternalService(BaseModel):
    """A STUN or TURN server handed to clients (XEP-0215, Prosody's `external_services`), as
    calls in Conversations, Dino or Gajim need them. `secret`: TURN REST credentials (coturn's
    `static-auth-secret`) are made per request; or a fixed `username` / `password`."""

    type: Literal["stun", "stuns", "turn", "turns"]
    host: str
    port: int
    transport: Literal["udp", "tcp", ""] = "udp"
    username: str = ""
    password: SecretStr | None = None
    secret: SecretStr | None = None


ContactKind = Literal["abuse", "admin", "feedback", "sales", "security", "status", "support"]


class XmppSettings(BaseModel):
    domain: str = "localhost"
    embedded: bool = True
    host: str = "127.0.0.1"
    c2s_port: int = 5222
    # c2s TLS: STARTTLS on c2s_port and direct TLS (XEP-0368) on this port; 0 = no direct TLS
    c2s_direct_tls_port: int = 5223
    # no SASL (PLAIN) on c2s before TLS; false only for a loopback-only setup of your own
    c2s_require_encryption: bool = True
    # PEM certificate (full chain) and key for the XMPP domain, e.g. from an ACME client; empty =
    # a self-signed one made on first start under {data_dir}/tls and reused after
    tls_certificate: str = ""
    tls_key: str = ""
    # XEP-0065 SOCKS5 proxy (Prosody's proxy65 on proxy.{domain}); 0 = none. It listens on
    # proxy65_interface (loopback by default) and is announced as proxy65_address (default: host)
    proxy65_port: int = 5000
    proxy65_interface: str = "127.0.0.1"
    proxy65_address: str = ""
    # XEP-0215: STUN / TURN servers for calls, e.g.
    # CHAT_XMPP__EXTERNAL_SERVICES='[{"type": "turn", "host": "turn.example.com", "port": 3478,
    # "secret": "..."}]'; none by default
    external_services: list[ExternalService] = []
    # XEP-0157 contact addresses, e.g. CHAT_XMPP__CONTACT_INFO='{"abuse": ["mailto:abuse@example.com"]}'
    contact_info: dict[ContactKind, list[str]] = {}
    http_port: int = 5280
    component_port: int = 5347
    component_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))
    # HTTP Basic credentials the XMPP server uses for /xmpp-auth/check_password
    auth_user: str = "prosody"
    auth_password: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(24)))
    # The bridge (bridge/): `embedded` starts Prosody as a child process from
    # config/templates/prosody.cfg.lua, rendered into {data_dir}/prosody; otherwise the
    # component connects to an external server at host:component_port.
    enabled: bool = True  # run the XMPP bridge in `chatbridge serve`
    prosody_command: str = "prosody"
    prosody_log_level: str = "info"  # never "debug" in production: SASL data would be logged
    # URL the auth module calls (`{auth_url}/check_password`); empty = this process's REST API
    auth_url: str = ""
    start_timeout_seconds: float = 15.0
    restart_backoff_max_seconds: float = 30.0
    reconnect_backoff_max_seconds: float = 5.0
    smacks_hibernation_seconds: int = 60
    relay_max_age_seconds: int = 24 * 60 * 60  # older undelivered outbox events are skipped
    # how long relayed stanzas wait for Prosody's confirmation before the link is dropped and made
    # again (they are then delivered again); a shorter stall of Prosody is only waited for
    relay_confirm_timeout_seconds: float = Field(default=30.0, gt=0)
    # per process; beyond it new room stanzas get resource-constraint and the bridge stops reading
    # 1:1 copies until half are stored (Prosody keeps them; its spool keeps 5x this many for a
    # reconnect)
    max_pending_stanzas: int = 10000
    # a message without ConnectyCube extraParams (a plain XMPP client's) is stored, 1:1 and in
    # rooms; SDK messages are stored when they say save_to_history=1, whatever this says
    store_plain_messages: bool = True
    max_history_stanzas: int = 20  # groupchat history sent on join (`maxstanzas`, capped)
    # Room traffic to many recipients goes as one wrapper that config/mod_chatbridge_fanout.lua
    # (loaded on the component by the embedded Prosody) clones per recipient. With an external
    # server without that module set it to false (one stanza per recipient); if the wrapper comes
    # back to the bridge undelivered, the bridge switches to one stanza per recipient by itself.
    fanout_module: bool = True
    fanout_min_targets: int = Field(default=2, ge=1)  # fewer recipients: plain stanzas
    # a Lua file of your own Prosody settings, included after the generated global options and
    # before its hosts (certificates, global options, extra hosts or components); "" = none
    prosody_include: str = ""

    @property
    def muc_domain(self) -> str:
        return f"muc.{self.domain}"

    @property
    def proxy65_domain(self) -> str:
        return f"proxy.{self.domain}"


class BlobSettings(BaseModel):
    path: Path = Path("var/blobs")
    max_bytes: int = 100 * 1024 * 1024
    upload_ttl_seconds: int = 60 * 60
    # Signs expiring download URLs of private blobs (`/blobs/{uid}/object?download_url=1`).
    # Set it when several instances serve the same blobs; the default changes at each start.
    url_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    download_url_ttl_seconds: int = 60 * 60


class LimitSettings(BaseModel):
    max_list_limit: int = 100
    max_ids_per_request: int = 100
    max_occupants: int = 1000
    max_message_bytes: int = 64 * 1024
    max_admins: int = 5
    max_bans_per_dialog: int = 1000  # users banned from one dialog (`/chat/Dialog/{id}/block`)
    max_address_book_upload: int = 1000  # contacts in one `POST /address_book`
    max_address_book_contacts: int = 10000  # contacts in one address book (one device's)
    max_contacts: int = 1000
    max_contact_ids_per_request: int = 100
    max_blocked_users: int = 1000  # longest block list (`/blocklist`, XEP-0191, privacy lists)


class DialogSettings(BaseModel):
    # Conversation events (members added, removed or leaving, renames, photo and description
    # changes, admin changes) are always sent live as system messages; with this on each is also
    # stored as a service message in the dialog's history (models/services/conversation.py).
    # Off by default: ConnectyCube apps usually post such messages themselves.
    service_messages: bool = False


class RateLimitSettings(BaseModel):
    """Rate limits in the `limits` library's notation: "10/minute;50/hour" (every window must
    allow), empty = no limit. Counted per process (models/services/rate_limits.py)."""

    # failed password logins (REST /session and /login, XMPP password auth) per login / email
    login_failures_per_login: str = "10/minute;50/hour"
    # failed password logins per client address (REST)
    login_failures_per_address: str = "30/minute;300/hour"
    # sign-ups (POST /users) per client address
    signups_per_address: str = "60/minute;1000/day"
    # messages a user sends (REST, XMPP rooms); 1:1 XMPP stanzas are limited by Prosody's
    # bandwidth limit below, since Prosody has delivered them before the bridge sees them
    messages_per_user: str = "50/second;1500/minute"
    # requests with a wrong admin API key (`CB-Administration-API-Key`) per client address
    admin_failures_per_address: str = "10/minute;100/hour"
    # reports a user files (`POST /reports`); every attempt counts, refused ones included
    reports_per_user: str = "10/minute;100/day"
    # refresh attempts with an unknown, expired or reused refresh token per client address
    refresh_failures_per_address: str = "30/minute;300/hour"
    # Addresses (or CIDR networks) of reverse proxies whose `X-Forwarded-For` is believed; the
    # client address is then the last address in that header that is not such a proxy. Empty:
    # the socket's peer is the client.
    trusted_proxies: list[str] = []
    # Prosody's mod_limits on c2s connections (bytes/s, its notation), empty = unlimited
    xmpp_c2s_rate: str = "128kb/s"  # a largest message (limits.max_message_bytes) in half a second
    xmpp_c2s_burst_seconds: int = 5

    @field_validator("login_failures_per_login", "login_failures_per_address",
                     "signups_per_address", "messages_per_user", "admin_failures_per_address",
                     "reports_per_user", "refresh_failures_per_address")
    @classmethod
    def _notation(cls, value: str) -> str:
        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(f'not a rate limit like "10/minute;50/hour": {value!r}') from None
        return value

    @field_validator("xmpp_c2s_rate")
    @classmethod
    def _bandwidth(cls, value: str) -> str:
        if value.strip() and not re.fullmatch(r"\d+ ?[bkmgBKMG][a-zA-Z]*/s", value.strip()):
            raise ValueError(f"not a rate like 128kb/s: {value!r}")
        return value.strip()


class ApnsSettings(BaseModel):
    """APNs over HTTP/2 (aioapns). Token auth (.p8 key + key id + team id) or a certificate."""

    key_file: Path | None = None  # the .p8 signing key
    key: SecretStr | None = None  # or the .p8 PEM text itself
    key_id: str = ""
    team_id: str = ""
    cert_file: Path | None = None  # PEM with certificate and private key (instead of a key)
    topic: str = ""  # the app's bundle id; `.voip` is appended for apns_voip
    # None: each subscription's environment picks the server (development = sandbox)
    sandbox: bool | None = None
    base_url: str = ""  # override, e.g. https://127.0.0.1:8443 (tests, proxies)
    ca_file: Path | None = None  # extra CA to trust (tests' self-signed server)
    max_connections: int = 4

    def configured(self) -> bool:
        has_key = bool(self.key_file or (self.key and self.key.get_secret_value()))
        return bool(self.cert_file) or (has_key and bool(self.key_id and self.team_id and self.topic))


class FcmSettings(BaseModel):
    """FCM HTTP v1 (pyfcm): a service account and its project."""

    service_account_file: Path | None = None
    service_account_json: SecretStr | None = None  # or the JSON text itself
    project_id: str = ""  # default: the service account's project
    endpoint: str = ""  # override of https://fcm.googleapis.com/v1/projects (tests)
    token_uri: str = ""  # override of the service account's token endpoint (tests)

    def configured(self) -> bool:
        return bool(self.service_account_file or (
            self.service_account_json and self.service_account_json.get_secret_value()))


class WebPushSettings(BaseModel):
    """Web Push (pywebpush) with VAPID. Without a key here (inline or an existing file) the key
    is created at the first start and kept in the store; `chatbridge vapid-keys` prints or
    rotates it."""

    vapid_private_key: SecretStr | None = None  # PEM, DER base64 or raw base64url
    vapid_private_key_file: Path = Path("var/push/vapid_private.pem")
    subject: str = "mailto:admin@localhost"  # VAPID `sub`: a mailto: or https: contact
    # Endpoints are URLs given by clients: only these push-service hosts (and their subdomains)
    # are contacted. Empty = any host.
    allowed_hosts: list[str] = ["fcm.googleapis.com", "push.services.mozilla.com",
                                "notify.windows.com", "push.apple.com"]
    allow_http: bool = False  # plain-http endpoints (tests only)

    def configured(self) -> bool:
        """Whether the settings give the key (else the store's is used)."""
        key = self.vapid_private_key and self.vapid_private_key.get_secret_value()
        return bool(key) or self.vapid_private_key_file.is_file()


class PushSettings(BaseModel):
    enabled: bool = True  # `chatbridge serve` runs a push worker in-process
    fanout: bool = True  # turn new messages into push jobs here (where presence is known)
    workers: int = 1  # worker loops per process
    concurrency: int = 200  # notifications in flight per worker
    batch_size: int = 200  # jobs claimed at once
    lease_seconds: float = 120.0  # a claimed job returns to the queue after this (dead worker)
    poll_seconds: float = 1.0  # queue poll when nothing wakes the worker
    send_timeout_seconds: float = 10.0
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0  # also caps Retry-After
    max_age_seconds: int = 24 * 60 * 60  # give up (dead letter) after this
    dead_retention_days: int = 7
    body_max_chars: int = 200
    public_dialog_alerts: bool = False  # chat alerts for public (type 4) dialogs
    max_event_recipients: int = 500
    max_event_message_bytes: int = 4096
    max_subscriptions_per_user: int = 20
    apns: ApnsSettings = ApnsSettings()
    fcm: FcmSettings = FcmSettings()
    webpush: WebPushSettings = WebPushSettings()

    def configured_channels(self) -> set[str]:
        channels: set[str] = set()
        if self.apns.configured():
            channels |= {"apns", "apns_voip"}
        if self.fcm.configured():
            channels.add("gcm")
        channels.add("web")  # a VAPID key always exists: the settings' or else the store's
        return channels


class FeedSettings(BaseModel):
    """The event feed (`GET /chat/events`, docs/architecture.md "The event feed") and the
    tombstones of messages deleted for everyone: both are kept this long."""

    retention_days: int = Field(default=30, ge=1)
    # Dialogs with at most this many members get one personal entry per member for each change
    # (their users read one range); bigger ones, and every public and broadcast dialog, one
    # shared entry their members read through `feed_shares` (never one write per member).
    fanout_max_members: int = Field(default=32, ge=0)
    max_page: int = Field(default=100, ge=1)  # most items of one page (`limit`)


class WebhookSettings(BaseModel):
    """Webhooks (docs/webhooks.md): per-application HTTP endpoints that receive chat events,
    signed, from the outbox, with retries and dead letters."""

    enabled: bool = True  # `chatbridge serve` delivers webhooks in-process
    workers: int = Field(default=1, ge=0)  # delivery loops per process
    concurrency: int = Field(default=50, ge=1)  # requests in flight per delivery loop
    batch_size: int = Field(default=50, ge=1)  # deliveries claimed at once
    lease_seconds: float = Field(default=120.0, gt=0)  # a claimed delivery returns after this
    poll_seconds: float = Field(default=1.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)  # one attempt: connect, send, answer
    max_attempts: int = Field(default=8, ge=1)  # then a dead letter
    backoff_base_seconds: float = Field(default=10.0, ge=0)  # first retry (doubles, with jitter)
    backoff_max_seconds: float = Field(default=3600.0, ge=0)  # also caps Retry-After
    dead_retention_days: int = Field(default=14, ge=1)
    max_per_app: int = Field(default=20, ge=1)  # endpoints per application
    # Endpoints must be https and public: an address (given, or resolved from the name, at
    # configuration and at every delivery) that is loopback, private, link-local, shared,
    # reserved or multicast is refused unless it is in one of these networks.
    allowed_networks: list[str] = []
    allow_http: bool = False  # plain-http endpoints (tests, local receivers)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network.strip(), strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {network!r}") from None
        return value


class MetricsSettings(BaseModel):
    """Prometheus metrics (docs/metrics.md): `GET /metrics` on the REST port, and a listener of
    its own in `chatbridge push-worker`."""

    enabled: bool = True  # false: no /metrics, no request or store timing
    # A scrape is answered when it comes from one of these addresses (the client address as the
    # rate limits see it: rest/client_address.py) or carries `Authorization: Bearer <token>`.
    allowed_networks: list[str] = ["127.0.0.0/8", "::1/128"]
    token: SecretStr | None = None
    # `chatbridge push-worker`'s own /metrics listener; port 0 = none
    push_worker_host: str = "127.0.0.1"
    push_worker_port: int = Field(default=9187, ge=0, le=65535)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network.strip(), strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {network!r}") from None
        return value


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
    dialogs: DialogSettings = DialogSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    push: PushSettings = PushSettings()
    metrics: MetricsSettings = MetricsSettings()
    feed: FeedSettings = FeedSettings()
    webhooks: WebhookSettings = WebhookSettings()
    data_dir: Path = Path("var")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line
    # Every this many seconds, young garbage is collected and the surviving objects are frozen
    # out of the garbage collector's full passes (gc.freeze): without it a full pass walks every
    # stored document of the embedded store and stalls the event loop (chatbridge/gc_policy.py).
    # 0 turns it off.
    gc_freeze_seconds: float = Field(default=1.0, ge=0)
    gc_thaw_seconds: float = Field(default=600.0, ge=0)
