"""The aiohttp application factory (`create_app`), used by `chatbridge serve` and by tests."""
from __future__ import annotations

from aiohttp import web

from models.services.container import Services
from rest.keys import services_key
from rest.middlewares import error_middleware, make_cors_middleware
from rest.routes import setup_routes


def create_app(services: Services) -> web.Application:
    settings = services.settings
    app = web.Application(
        client_max_size=settings.http.max_body_bytes,
        middlewares=[make_cors_middleware(settings.http.cors_origins), error_middleware],
    )
    app[services_key] = services
    setup_routes(app)
    return app
