"""Resolving the caller: `CB-Token` → Requester, lazily, so /session ignores stale tokens; and
`CB-Administration-API-Key` → the application's admin, on the admin routes only (a key never opens
a user route, a session token never an admin route)."""
from __future__ import annotations

from aiohttp import web

from models.errors import ChatError, ForbiddenError, InvalidError, NotFoundError
from models.requester import Requester, admin
from rest.client_address import client_address
from rest.keys import services_key

REQUESTER: web.RequestKey[Requester] = web.RequestKey("requester", Requester)
ADMIN_KEY_HEADER = "CB-Administration-API-Key"


async def requester(request: web.Request) -> Requester:
    """Any live session (application or user); 401 'Required session does not exist' otherwise."""
    cached = request.get(REQUESTER)
    if cached is not None:
        return cached
    token = request.headers.get("CB-Token") or request.query.get("token")
    found = await request.app[services_key].sessions.resolve(token)
    request[REQUESTER] = found
    return found


async def user_requester(request: web.Request) -> Requester:
    """A session with a logged-in user."""
    found = await requester(request)
    if not found.is_user:
        raise ForbiddenError("A user session is required")
    return found


async def admin_requester(request: web.Request) -> Requester:
    """The application whose admin API key the request carries; 401 otherwise (429 for an
    address past its limit of wrong keys)."""
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    return await services.apps.resolve_admin_key(request.headers.get(ADMIN_KEY_HEADER), address)


OPERATOR_KEY_HEADER = "CB-Operator-Key"
_LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


async def operator_requester(request: web.Request) -> None:
    """The operator (`chatbridge` next to `chatbridge serve`): the key of `{data_dir}/operator-key`
    in `CB-Operator-Key`, from a loopback peer that forwards for nobody (a reverse proxy on the
    same host forwards others' requests). Wrong keys count as wrong admin keys do; 401
    otherwise."""
    services = request.app[services_key]
    address = client_address(request, services.settings.rate_limits.trusted_proxies)
    services.rate_limits.check_admin_key(address)
    forwarded = any(name in request.headers for name in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
    try:
        if request.remote not in _LOOPBACK or forwarded:
            raise ForbiddenError("The operator routes answer on loopback only")
        services.operations.check_operator_key(request.headers.get(OPERATOR_KEY_HEADER))
    except ChatError:
        services.rate_limits.admin_key_failed(address)
        raise


async def app_admin_or_operator(request: web.Request, app_id: int) -> None:
    """The admin of application `app_id` (its `CB-Administration-API-Key`; another
    application's key finds nothing: 404) or the operator."""
    if ADMIN_KEY_HEADER in request.headers:
        caller = await admin_requester(request)
        if caller.app_id != app_id:
            raise NotFoundError("Application not found")
        return
    await operator_requester(request)


async def admin_or_operator_of(request: web.Request) -> Requester:
    """The admin routes that name no application in their path (`/admin/webhooks…`): the
    application of the `CB-Administration-API-Key`, or, for the operator (`CB-Operator-Key`,
    loopback only, see `operator_requester`), the application of the query's `app_id`, acting as
    its admin. An admin key with another application's `app_id` finds nothing (404)."""
    raw = request.query.get("app_id")
    if ADMIN_KEY_HEADER in request.headers or OPERATOR_KEY_HEADER not in request.headers:
        caller = await admin_requester(request)
        if raw not in (None, "") and raw != str(caller.app_id):
            raise NotFoundError("Application not found")
        return caller
    await operator_requester(request)
    try:
        app_id = int(raw or "")
    except ValueError:
        raise InvalidError("the operator names the application: ?app_id=N", field="app_id") from None
    await request.app[services_key].operations.show_app(app_id)  # 404
    return admin(app_id)
