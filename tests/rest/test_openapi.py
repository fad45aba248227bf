"""GET /openapi.json: a valid OpenAPI 3.1 document (openapi-spec-validator) that documents every
route the aiohttp router has, with its parameters, security and error answers."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from rest.openapi import ERRORS, SECURITY_SCHEMES, shape
from rest.views.docs import document_key


async def _document(client) -> dict:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    return await resp.json()


async def test_the_document_is_valid_openapi_3_1(client):
    document = await _document(client)
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on an invalid document


async def test_every_registered_route_is_documented(client):
    document = await _document(client)
    documented = {(method.upper(), shape(path)) for path, item in document["paths"].items()
                  for method in item}
    registered = {(route.method, shape(route.resource.canonical))
                  for route in client.app.router.routes()}
    assert registered - documented == set()
    assert documented - registered == set()
    assert len(registered) > 100  # the `.json` variants are routes of their own


async def test_path_parameters_are_declared_with_their_patterns(client):
    document = await _document(client)
    for path, item in document["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
    user = document["paths"]["/users/{user_id}.json"]["get"]["parameters"][0]
    assert user["schema"]["pattern"] == "^(?:\\d+)$"


async def test_security_schemes_and_requirements(client):
    document = await _document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["CBToken"] == {**SECURITY_SCHEMES["CBToken"]}
    assert schemes["CBToken"]["name"] == "CB-Token" and schemes["CBToken"]["in"] == "header"
    assert schemes["AdminApiKey"]["name"] == "CB-Administration-API-Key"
    paths = document["paths"]
    assert paths["/chat/Message.json"]["post"]["security"] == [{"CBToken": []}, {"CBTokenQuery": []}]
    assert paths["/users"]["post"]["security"] == [{"CBToken": []}, {"CBAuthKey": []}]
    assert paths["/session.json"]["post"]["security"] == []
    assert paths["/xmpp-auth/check_password"]["get"]["security"] == [{"XmppAuthBasic": []}]
    assert paths["/health"]["get"]["security"] == []


async def test_error_answers_have_the_connectycube_shape(client):
    document = await _document(client)
    responses = document["components"]["responses"]
    assert sorted(int(s) for s in responses) == sorted(ERRORS)
    error = document["components"]["schemas"]["ErrorAnswer"]
    assert error["required"] == ["errors"]
    assert error["properties"]["errors"]["additionalProperties"]["items"] == {"type": "string"}
    assert "Retry-After" in responses["429"]["headers"]
    op = document["paths"]["/chat/Dialog/{dialog_id}"]["put"]["responses"]
    assert {"400", "401", "403", "404", "413", "422", "429"} <= set(op)


async def test_the_document_is_built_once(client):
    first = await (await client.get("/openapi.json")).read()
    second = await (await client.get("/openapi.json")).read()
    assert first == second
    assert client.app[document_key]._body == first


async def test_a_route_without_a_doc_is_an_error(services):
    from aiohttp import web

    from rest.app import create_app
    from rest.openapi import build_document

    app = create_app(services)

    async def undocumented(request):
        return web.Response()

    app.router.add_route("GET", "/undocumented", undocumented)
    with pytest.raises(LookupError, match="/undocumented"):
        build_document(app)
