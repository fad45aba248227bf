"""The operators' rules (`chatbridge apps|users|export|indexes`, docs/admin-api.md "Operators"):
applications and their keys, user imports and deletes, history exports.

One service for both ways the CLI reaches a deployment: `chatbridge` calls it directly on a
MongoDB store, and the operator admin routes (rest/views/operations.py) call it for the embedded
store, whose data lives in the running `chatbridge serve`. Rules are not repeated here: imported
users are signed up by `UserService.signup` (the REST sign-up's checks), deleted by
`AdminService.delete_user`; keys are made by `AppService`.

Secrets: a new application's auth secret and admin key, and a rotation's new keys, are returned
once (`AppKeys`) and never logged; the store keeps the admin key's sha256 only (AppService).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from pathlib import Path
from typing import AsyncIterator, Iterable

from config.settings import AppSettings
from models.errors import ChatError, InvalidError, NotFoundError, UnauthenticatedError
from models.messages import Message
from models.operations import AppInfo, AppKeys, ImportResult, ImportRow
from models.queries import Condition, Op
from models.requester import admin
from models.services.access import AccessService
from models.services.admin import AdminService
from models.services.apps import AppService, new_admin_key, write_key_file
from models.services.users import UserService
from models.storage.apps import AppStore
from models.storage.messages import MessageStore
from models.storage.users import UserStore

logger = logging.getLogger(__name__)
TITLE_MAX = 200
EXPORT_PAGE = 500
WRONG_OPERATOR_KEY = "Unexpected operator key"


def error_text(exc: ChatError) -> str:
    """A service error as one line: `login: has already been taken`."""
    return exc.message if exc.field in (None, "base") else f"{exc.field}: {exc.message}"


def _info(doc: dict, users: int | None = None) -> AppInfo:
    return AppInfo(id=int(doc["_id"]), title=str(doc.get("title") or ""),
                   auth_key=str(doc.get("auth_key") or ""), created_at=doc.get("created_at"),
                   has_admin_key=bool(doc.get("admin_key_hash")), users=users)


class OperatorService:
    def __init__(self, apps: AppService, app_store: AppStore, users: UserService,
                 user_store: UserStore, admin: AdminService, access: AccessService,
                 message_store: MessageStore, default_app: AppSettings,
                 admin_key_file: Path | None = None) -> None:
        self._apps = apps
        self._app_store = app_store
        self._users = users
        self._user_store = user_store
        self._admin = admin
        self._access = access
        self._messages = message_store
        self._default = default_app
        self._operator_key_hash: str | None = None
        # `{data_dir}/admin-api-key`, written by `Services.start` with the default app's first
        # admin key: a rotation of that application rewrites it (when it exists) so it stays true
        self._admin_key_file = admin_key_file

    # -- the operator's key ----------------------------------------------------------------------
    def ensure_operator_key(self, path: Path) -> bool:
        """The key of the operator routes (`CB-Operator-Key`, loopback only): the one in `path`
        (mode 0600) or, when it has none, a new one written there. Only its sha256 is kept in
        memory; it is never logged. True when a key was made now. (Blocking: call in a thread.)"""
        key = ""
        if path.is_file():
            key = path.read_text().strip()
        made = len(key) < 16
        if made:
            key = new_admin_key()
            write_key_file(path, key)
        self._operator_key_hash = hashlib.sha256(key.encode()).hexdigest()
        return made

    def check_operator_key(self, key: str | None) -> None:
        """UnauthenticatedError unless `key` is the operator's key."""
        expected = self._operator_key_hash
        given = hashlib.sha256((key or "").encode()).hexdigest()
        if not key or expected is None or not hmac.compare_digest(given, expected):
            raise UnauthenticatedError(WRONG_OPERATOR_KEY)

    # -- applications ----------------------------------------------------------------------------
    async def create_app(self, title: str, app_id: int | None = None) -> AppKeys:
        """A new application with new keys (auth key, auth secret, admin key), returned once.
        Without `app_id` it takes the next free id, never the default application's (on a new
        MongoDB store the first `chatbridge serve` creates that one from the settings)."""
        title = (title or "").strip()
        if not title or len(title) > TITLE_MAX:
            raise InvalidError(f"must be 1 to {TITLE_MAX} characters", field="title")
        if app_id is not None and app_id < 1:
            raise InvalidError("must be a positive number", field="id")
        for _ in range(5):  # another operator may take the same next id: try the one after
            chosen = app_id if app_id is not None else await self._app_store.max_id() + 1
            if app_id is None and chosen == self._default.id:
                chosen += 1  # kept for the default application, made by the first `serve`
            auth_key, auth_secret = secrets.token_urlsafe(18), secrets.token_urlsafe(24)
            admin_key = await self._apps.create(chosen, title, auth_key, auth_secret)
            if admin_key is not None:
                logger.info("created application id=%s", chosen)
                return AppKeys(await self.show_app(chosen), admin_key=admin_key,
                               auth_key=auth_key, auth_secret=auth_secret)
            if app_id is not None:
                raise InvalidError(f"application {app_id} exists already", field="id")
        raise InvalidError("no free application id, try again", field="id")

    async def list_apps(self) -> list[AppInfo]:
        return [_info(doc) for doc in await self._app_store.list_all()]

    async def show_app(self, app_id: int) -> AppInfo:
        doc = await self._app_store.get(app_id)
        if doc is None:
            raise NotFoundError("Application not found")
        return _info(doc, await self._user_store.count_matching(app_id, ()))

    async def rotate_keys(self, app_id: int, auth: bool = False) -> AppKeys:
        """A new admin key (the old one stops working, see `AppService.rotate_admin_key`) and,
        with `auth`, a new auth key and secret (clients built with the old ones can no longer open
        sessions). The default application's keys given by the settings are changed there."""
        await self.show_app(app_id)  # 404
        if app_id == self._default.id:
            if self._default.admin_api_key is not None:
                raise InvalidError("the default application's admin key is the setting "
                                   "CHAT_APP__ADMIN_API_KEY: change it there", field="id")
            if auth:
                raise InvalidError("the default application's auth key and secret are the "
                                   "settings CHAT_APP__AUTH_KEY / CHAT_APP__AUTH_SECRET",
                                   field="id")
        auth_key = auth_secret = None
        if auth:
            auth_key, auth_secret = secrets.token_urlsafe(18), secrets.token_urlsafe(24)
            await self._app_store.set_auth_keys(app_id, auth_key, auth_secret)
            logger.info("auth key and secret of application %s rotated", app_id)
        admin_key = await self._apps.rotate_admin_key(app_id)
        if app_id == self._default.id and admin_key is not None:
            await asyncio.to_thread(self._refresh_admin_key_file, admin_key)
        return AppKeys(await self.show_app(app_id), admin_key=admin_key, auth_key=auth_key,
                       auth_secret=auth_secret)

    def _refresh_admin_key_file(self, admin_key: str) -> None:
        path = self._admin_key_file
        if path is not None and path.is_file():  # never made here: only kept true
            write_key_file(path, admin_key)
            logger.info("admin API key of application %s rewritten in %s", self._default.id, path)

    # -- users -----------------------------------------------------------------------------------
    async def import_users(self, app_id: int, rows: Iterable[ImportRow]) -> list[ImportResult]:
        """Signs up each row as `POST /users` would (same checks; no per-address limit: the
        operator is not a client). A row that fails is reported with its line and the reason,
        the others are created; a login or email given twice is rejected the second time."""
        await self.show_app(app_id)
        out = []
        for row in rows:
            if row.draft is None:
                out.append(ImportResult(row.line, error=row.error or "unreadable row"))
                continue
            try:
                user = await self._users.signup(app_id, row.draft)
            except ChatError as exc:
                out.append(ImportResult(row.line, error=error_text(exc)))
            else:
                out.append(ImportResult(row.line, user_id=user.id))
        return out

    async def delete_user(self, app_id: int, user_id: int) -> None:
        await self.show_app(app_id)
        await self._admin.delete_user(admin(app_id), user_id)

    # -- export ----------------------------------------------------------------------------------
    async def export_messages(self, app_id: int, dialog_id: str | None = None
                              ) -> AsyncIterator[Message]:
        """Every stored message of the application (or of one of its dialogs), oldest first, in
        pages of `EXPORT_PAGE` by `_id`: memory stays flat whatever the history's size."""
        await self.show_app(app_id)
        base: tuple[Condition, ...] = ()
        if dialog_id is not None:
            await self._access.dialog_for(admin(app_id), dialog_id)  # 404 outside the app
            base = (Condition("chat_dialog_id", Op.eq, dialog_id),)
        last: str | None = None
        while True:
            after = base if last is None else base + (Condition("_id", Op.gt, last),)
            page = await self._messages.page_app(app_id, after, (("_id", 1),), 0, EXPORT_PAGE)
            for message in page:
                yield message
            if len(page) < EXPORT_PAGE:
                return
            last = page[-1].id
