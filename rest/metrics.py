"""`GET /metrics` (the Prometheus text format) and the middleware timing every REST request.

Requests are labelled by the matched route's template without the optional `.json` suffix
(`/chat/Message/{ids}`), never by the raw path: a request no route matches (a 404, a 405, a CORS
preflight) is `route="unmatched"`, and a method outside the usual ones is `method="other"`, so
clients cannot grow the label set. Each label combination's series is looked up once and cached.

A scrape is answered from `metrics.allowed_networks` (the client address as the rate limits see
it, rest/client_address.py) or with `Authorization: Bearer <metrics.token>`; otherwise 403 (401
when a token is set). `create_metrics_app` is the same endpoint alone, for `chatbridge push-worker`.
"""
from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache
from time import perf_counter

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from config.settings import Settings
from models.metrics import LatencyHistogram, Metrics, Series
from rest.client_address import client_address
from rest.errors import error_response

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


def route_label(resource: web.AbstractResource | None) -> str:
    if resource is None:
        return UNMATCHED
    canonical = resource.canonical
    return canonical[:-5] if canonical.endswith(".json") else canonical


def make_metrics_middleware(histogram: LatencyHistogram):
    """Times each request into `histogram` (route, method, status), the other middlewares and
    the error mapping included."""
    cache: dict[tuple[object, str, int], Series] = {}

    def observe(request: web.Request, status: int, seconds: float) -> None:
        resource = request.match_info.route.resource
        method = request.method
        if method not in METHODS:
            method = "other"
        key = (resource, method, status)
        series = cache.get(key)
        if series is None:
            series = cache[key] = histogram.series(route_label(resource), method, str(status))
        series.observe(seconds)

    @web.middleware
    async def metrics_middleware(request: web.Request, handler):
        start = perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects; the error middleware answers the rest
            observe(request, exc.status, perf_counter() - start)
            raise
        observe(request, response.status, perf_counter() - start)
        return response

    return metrics_middleware


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]):
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in allowed if n.strip())


def _address_allowed(address: str | None, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return any(ip in network for network in _networks(allowed))


def make_metrics_view(metrics: Metrics, settings: Settings):
    config = settings.metrics
    token = config.token.get_secret_value() if config.token else ""
    expected = f"Bearer {token}".encode() if token else b""
    allowed = tuple(config.allowed_networks)
    proxies = settings.rate_limits.trusted_proxies

    async def metrics_view(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not (expected and hmac.compare_digest(given, expected)) and \
                not _address_allowed(client_address(request, proxies), allowed):
            if expected:
                return error_response(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})
            return error_response(403, "Forbidden")
        await metrics.refresh()
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(metrics.registry), headers={"Content-Type": content_type})

    return metrics_view


def create_metrics_app(metrics: Metrics, settings: Settings) -> web.Application:
    """Only `GET /metrics`: the listener of a process without the REST API (push-worker)."""
    app = web.Application()
    app.router.add_get("/metrics", make_metrics_view(metrics, settings))
    return app
