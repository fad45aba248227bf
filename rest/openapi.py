"""The OpenAPI 3.1 document of the REST API, generated from the route table and the models.

Each row of the route table (rest/routes.py) carries a `Doc`: summary, tag, security, the
request model (body or query) and the answers (pydantic models of rest/schemas/answers.py, or a
`Raw` media type). `build_document` walks the aiohttp router itself, so a route without a `Doc`
is an error, not a gap: every registered route (the `.json` variants and the HEADs `add_get`
adds included) is in the document. The schemas come from one
`pydantic.json_schema.models_json_schema` call. `GET /openapi.json` (rest/views/docs.py) builds
the document once per application, on its first request.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Mapping

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from rest.schemas.answers import EmptyAnswer, ErrorAnswer

REF = "#/components/schemas/{model}"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
JSON_OR_FORM = (JSON, FORM)

# Security requirements (alternatives: any one of them will do). The token may also come as
# `?token=` (rest/auth.py reads both).
SESSION: tuple[dict[str, list[str]], ...] = ({"CBToken": []}, {"CBTokenQuery": []})
SIGNUP = ({"CBToken": []}, {"CBAuthKey": []})
ADMIN = ({"AdminApiKey": []},)
XMPP_AUTH = ({"XmppAuthBasic": []},)
OPERATOR = ({"OperatorKey": []},)
PUBLIC: tuple[dict[str, list[str]], ...] = ()

SECURITY_SCHEMES = {
    "CBToken": {"type": "apiKey", "in": "header", "name": "CB-Token",
                "description": "A session token from `POST /session`. Sessions expire two hours "
                               "after their last use (401 `Required session does not exist`)."},
    "CBTokenQuery": {"type": "apiKey", "in": "query", "name": "token",
                     "description": "The same token as a query parameter."},
    "CBAuthKey": {"type": "apiKey", "in": "header", "name": "CB-AuthKey",
                  "description": "The application's auth key: sign-up without a session."},
    "XmppAuthBasic": {"type": "http", "scheme": "basic",
                      "description": "Internal: the XMPP server's auth module "
                                     "(`CHAT_XMPP__AUTH_PASSWORD`)."},
    "AdminApiKey": {"type": "apiKey", "in": "header", "name": "CB-Administration-API-Key",
                    "description": "The application's administration API key (docs/admin-api.md)."},
    "OperatorKey": {"type": "apiKey", "in": "header", "name": "CB-Operator-Key",
                    "description": "The operator's key, `{CHAT_DATA_DIR}/operator-key`; loopback "
                                   "only (docs/admin-api.md, \"Operators\")."},
}

ERRORS = {
    400: "Bad request (malformed body, too many parameters)",
    401: "No live session (`Required session does not exist`) or wrong credentials",
    403: "Forbidden (not a user session, not an occupant, not an admin)",
    404: "Not found",
    413: "Request body is too large",
    422: "Invalid value: `errors` names the field",
    429: "Too many requests; `Retry-After` tells when to retry",
    503: "The store is unavailable",
}

TAGS = [
    ("sessions", "Application and user sessions"),
    ("users", "Sign-up, profiles, lookups and lists"),
    ("blocklist", "The caller's block list (the same list as XMPP blocking and privacy lists)"),
    ("dialogs", "Chat dialogs (ConnectyCube's Chat Dialog API)"),
    ("messages", "History, sending, read and delivered marks, edits, deletes, reactions"),
    ("blobs", "Files (ConnectyCube's storage API)"),
    ("push", "Push subscriptions and events"),
    ("address_book", "Address books and the registered users in them"),
    ("reports", "Reports of messages, users and dialogs (moderation: the admin API)"),
    ("contacts", "The caller's contacts, also their XMPP roster (presence subscriptions)"),
    ("service", "Health, this document and its page"),
    ("admin", "The admin API: an application's operators and bots (CB-Administration-API-Key)"),
    ("internal", "Asked by the XMPP server, not by clients"),
]


@dataclass(frozen=True)
class Raw:
    """An answer that is not a JSON model: its media type and schema."""
    media_type: str
    schema: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    headers: Mapping[str, Any] = field(default_factory=dict)


Answer = type[BaseModel] | Raw | None  # None: an empty body


@dataclass(frozen=True)
class Doc:
    """What the document says about one route. `ok` answers with `status`; `also` adds more
    answers; `errors` adds the ConnectyCube error answers (`ERRORS`)."""
    summary: str
    tag: str
    ok: Answer = EmptyAnswer
    status: int = 200
    security: tuple[dict[str, list[str]], ...] = SESSION
    body: type[BaseModel] | Raw | None = None  # a Raw body: its media type and schema
    body_media: tuple[str, ...] = JSON_OR_FORM
    query: type[BaseModel] | None = None
    params: Mapping[str, str] = field(default_factory=dict)  # path parameter → description
    also: Mapping[int, Answer] = field(default_factory=dict)
    errors: bool = True
    description: str | None = None


@dataclass(frozen=True)
class RouteDoc:
    doc: Doc
    path: str  # as registered (with the `{name:regex}` patterns)


RouteDocs = dict[tuple[str, str], RouteDoc]  # (method, formatter path) → doc
route_docs_key: web.AppKey[RouteDocs] = web.AppKey("route_docs", dict)

_PARAM = re.compile(r"\{(\w+)(?::((?:[^{}]|\{\d*,?\d*\})+))?\}")


def formatter(path: str) -> str:
    """`/users/{user_id:\\d+}.json` → `/users/{user_id}.json` (aiohttp's `canonical`)."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def shape(path: str) -> str:
    """The path with its parameters unnamed: two paths of one shape are one path item."""
    return re.sub(r"\{\w+\}", "{}", formatter(path))


def path_patterns(path: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _PARAM.finditer(path) if m.group(2)}


def operation_id(method: str, path: str) -> str:
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", formatter(path)).strip("_")
    return f"{method.lower()}_{slug or 'root'}"


def build_document(app: web.Application) -> dict[str, Any]:
    docs = app[route_docs_key]
    routes = [(route.method, route.resource.canonical) for route in app.router.routes()
              if route.resource is not None]
    missing = [(m, p) for m, p in routes if _doc_for(docs, m, p) is None]
    if missing:
        raise LookupError(f"routes without a Doc in rest/routes.py: {missing}")
    used = [_doc_for(docs, m, p) for m, p in routes]
    defs = _schemas([rd.doc for rd in used if rd is not None])
    paths: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}  # shape → the path key (the first path of that shape)
    for (method, canonical), route_doc in zip(routes, used):
        assert route_doc is not None
        key = keys.setdefault(shape(canonical), canonical)
        names = dict(zip(re.findall(r"\{(\w+)\}", canonical), re.findall(r"\{(\w+)\}", key)))
        item = paths.setdefault(key, {})
        item[method.lower()] = _operation(method, canonical, route_doc, names, defs)
    _drop_inlined(defs, [rd.doc.query for rd in used if rd is not None and rd.doc.query], paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatbridge", "version": _version(),
                 "description": "The ConnectyCube REST API as chatbridge serves it. Every path "
                                "answers with and without the `.json` suffix; errors look like "
                                "`{\"errors\": {field: [message]}}`.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "schemas": defs.schemas,
            "responses": {str(status): _error_response(status, text, defs)
                          for status, text in ERRORS.items()},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _doc_for(docs: RouteDocs, method: str, canonical: str) -> RouteDoc | None:
    found = docs.get((method, canonical))
    if found is None and method == "HEAD":  # add_get's HEAD: the GET's doc, without a body
        found = docs.get(("GET", canonical))
    return found


@dataclass
class _Schemas:
    schemas: dict[str, Any]
    refs: dict[tuple[type[BaseModel], str], dict[str, Any]]


def _models(doc: Doc) -> list[tuple[type[BaseModel], str]]:
    out: list[tuple[type[BaseModel], str]] = []
    if isinstance(doc.body, type):
        out.append((doc.body, "validation"))
    if doc.query is not None:
        out.append((doc.query, "validation"))
    for answer in (doc.ok, *doc.also.values()):
        if isinstance(answer, type):
            out.append((answer, "serialization"))
    if doc.errors:
        out.append((ErrorAnswer, "serialization"))
    return out


def _schemas(docs: list[Doc]) -> _Schemas:
    wanted = list(dict.fromkeys([(ErrorAnswer, "serialization")]
                                + [m for doc in docs for m in _models(doc)]))
    refs, top = models_json_schema(wanted, ref_template=REF)
    return _Schemas(schemas=dict(top.get("$defs", {})), refs=dict(refs))


def _drop_inlined(defs: _Schemas, queries: list[type[BaseModel]], paths: dict[str, Any]) -> None:
    """Query models are inlined as parameters: their schemas go unless something refers to them."""
    names = {defs.refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1] for model in queries}
    for name in names:
        rest = {k: v for k, v in defs.schemas.items() if k != name}
        if f'/{name}"' not in json.dumps([paths, rest]):
            defs.schemas.pop(name, None)


def _operation(method: str, canonical: str, route_doc: RouteDoc, names: dict[str, str],
               defs: _Schemas) -> dict[str, Any]:
    doc = route_doc.doc
    op: dict[str, Any] = {"tags": [doc.tag], "summary": doc.summary,
                          "operationId": operation_id(method, canonical)}
    if doc.description:
        op["description"] = doc.description
    op["security"] = [dict(requirement) for requirement in doc.security]
    parameters = _path_parameters(route_doc, names)
    if doc.query is not None:
        parameters += _query_parameters(doc.query, defs)
    if parameters:
        op["parameters"] = parameters
    if isinstance(doc.body, Raw):
        op["requestBody"] = {"required": True, "content": {
            doc.body.media_type: {"schema": dict(doc.body.schema)}}}
    elif doc.body is not None and method not in ("GET", "HEAD"):
        schema = defs.refs[(doc.body, "validation")]
        op["requestBody"] = {"required": False, "content": {
            media: {"schema": schema} for media in doc.body_media}}
    responses: dict[str, Any] = {str(doc.status): _answer(doc.ok, defs, method)}
    for status, answer in doc.also.items():
        responses[str(status)] = _answer(answer, defs, method)
    if doc.errors:
        for status in ERRORS:
            responses.setdefault(str(status), {"$ref": f"#/components/responses/{status}"})
    op["responses"] = responses
    return op


def _path_parameters(route_doc: RouteDoc, names: dict[str, str]) -> list[dict[str, Any]]:
    patterns = path_patterns(route_doc.path)
    out = []
    for own, name in names.items():
        schema: dict[str, Any] = {"type": "string"}
        if own in patterns:
            schema["pattern"] = f"^(?:{patterns[own]})$"
        param: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
        if own in route_doc.doc.params:
            param["description"] = route_doc.doc.params[own]
        out.append(param)
    return out


def _query_parameters(model: type[BaseModel], defs: _Schemas) -> list[dict[str, Any]]:
    ref = defs.refs[(model, "validation")]["$ref"]
    schema = defs.schemas[ref.rsplit("/", 1)[-1]]
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                 "schema": prop}
        if "[" in name:
            param["allowReserved"] = True
        if description:
            param["description"] = description
        out.append(param)
    return out


def _answer(answer: Answer, defs: _Schemas, method: str) -> dict[str, Any]:
    if answer is None:
        return {"description": "No body"}
    if isinstance(answer, Raw):
        out: dict[str, Any] = {"description": answer.description or answer.media_type}
        if answer.headers:
            out["headers"] = dict(answer.headers)
        if answer.media_type and method != "HEAD":
            out["content"] = {answer.media_type: {"schema": dict(answer.schema)}}
        return out
    description = (answer.__doc__ or answer.__name__).strip().splitlines()[0]
    out = {"description": description}
    if method != "HEAD":
        out["content"] = {JSON: {"schema": defs.refs[(answer, "serialization")]}}
    return out


def _error_response(status: int, text: str, defs: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"description": text,
                           "content": {JSON: {"schema": defs.refs[(ErrorAnswer, "serialization")]}}}
    if status == 429:
        out["headers"] = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}
    return out


def _version() -> str:
    try:
        return metadata.version("chatbridge")
    except metadata.PackageNotFoundError:
        return "0.0.0"
