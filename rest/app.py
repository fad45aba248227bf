"""The aiohttp application factory (`create_app`), used by `chatbridge serve` and by tests."""
from __future__ import annotations

from aiohttp import web

from models.services.container import Services
from rest.keys import services_key
from rest.metrics import make_metrics_middleware
from rest.middlewares import error_middleware, make_cors_middleware
from rest.routes import setup_routes


def create_app(services: Services) -> web.Application:
    settings = services.settings
    middlewares = [make_cors_middleware(settings.http.cors_origins), error_middleware]
    if settings.metrics.enabled:  # outermost: times the other middlewares too
        middlewares.insert(0, make_metrics_middleware(services.metrics.http))
    app = web.Application(client_max_size=settings.http.max_body_bytes, middlewares=middlewares)
    app[services_key] = services
    setup_routes(app)
    return app
