"""Shared by the admin API's REST tests: the applications' admin keys and calls that carry one."""
from __future__ import annotations

from typing import Any

KEY_HEADER = "CB-Administration-API-Key"
WRONG_KEY = {"errors": {"base": ["Unexpected admin API key"]}}


async def admin_keys(services, settings) -> dict[int, str]:
    """App 1's key as its first start wrote it to the data dir; app 2's from a rotation."""
    first = (settings.data_dir / "admin-api-key").read_text().strip()
    return {1: first, 2: await services.apps.rotate_admin_key(2)}


async def admin_call(api, key: str | None, method: str, path: str, **kwargs) -> tuple[int, Any]:
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers[KEY_HEADER] = key
    return await api.call(method, path, headers=headers, **kwargs)
