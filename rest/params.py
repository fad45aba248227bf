"""Reading ConnectyCube requests: bracketed query keys, both array encodings, lax bodies.

`nested_params` turns `type[in]=2%2C3&id[in][]=1&id[in][]=2&extensions[a]=b&sort_desc=x`
into `{"type": {"in": "2,3"}, "id": {"in": ["1", "2"]}, "extensions": {"a": "b"}, "sort_desc": "x"}`.
"""
from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from models.errors import BadRequestError, InvalidError, TooLargeError

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_PARAMS = 200


def nested_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for count, (key, value) in enumerate(pairs):
        if count >= MAX_PARAMS:
            raise BadRequestError("too many parameters")
        match = _KEY_RE.match(key)
        if not match:
            out[key] = value
            continue
        head, rest = match.group(1), match.group(2)
        parts = [head] + re.findall(r"\[([^\[\]]*)\]", rest)
        is_array = parts[-1] == ""
        if is_array:
            parts = parts[:-1]
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"eq": child}
                node[part] = child
            node = child
        leaf = parts[-1]
        if is_array:
            existing = node.get(leaf)
            if isinstance(existing, list):
                existing.append(value)
            else:
                node[leaf] = [value]
        elif isinstance(node.get(leaf), dict):
            node[leaf]["eq"] = value
        else:
            node[leaf] = value
    return out


def query_params(request: web.Request) -> dict[str, Any]:
    return nested_params(request.query.items())


async def body_params(request: web.Request) -> dict[str, Any]:
    """JSON body (object) or URL-encoded form body (DELETE carries `force=1` that way)."""
    if not request.body_exists:
        return {}
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise TooLargeError("Request body is too large") from exc
    if not raw.strip():
        return {}
    ctype = request.content_type
    looks_json = raw.lstrip()[:1] in (b"{", b"[")
    # ConnectyCube's own examples: `curl -d '{...}'` (JSON sent as a form, its reactions
    # example) and `curl -X GET -H "Content-Type: application/json" -d 'extensions[a]=b'` (a
    # form sent as JSON, its dialog filters): the body says what it is
    if (ctype == "application/x-www-form-urlencoded" and not looks_json) or (
            ctype != "application/json" and request.method in ("DELETE", "GET") and not looks_json) or (
            ctype == "application/json" and request.method == "GET" and not looks_json):
        try:
            return nested_params(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise BadRequestError("Malformed form body") from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError("Malformed JSON body") from exc
    if not isinstance(data, dict):
        raise BadRequestError("JSON body must be an object")
    return data


async def all_params(request: web.Request) -> dict[str, Any]:
    """Query parameters overlaid with body parameters (also for GET: ConnectyCube's examples send
    `curl -X GET -d 'chat_dialog_id=...'`)."""
    params = query_params(request)
    params.update(await body_params(request))
    return params


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data, default=_default),
                        content_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    raise TypeError


def ids_from_path(request: web.Request, key: str = "ids", max_ids: int = 100) -> list[str]:
    raw = request.match_info.get(key, "")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not ids:
        raise InvalidError("can't be blank", field="id")
    if len(ids) > max_ids:
        raise InvalidError(f"too many ids (maximum is {max_ids})", field="id")
    return ids
