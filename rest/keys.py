"""Typed application keys."""
from __future__ import annotations

from aiohttp import web

from models.services.container import Services

services_key: web.AppKey[Services] = web.AppKey("services", Services)
