"""Hostile HTTP requests (what an outside audit sent the service) and the checks every error answer must pass:
the one error model of the OpenAPI document, small, saying why. Shared by the in-process route tests
(``api/test_errors.py``) and the real-server ones (``api/test_hardening.py``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from jsonschema import Draft202012Validator

JSON = {"content-type": "application/json"}
CHAT = "/v1/chat/completions"


def raw(text: str) -> bytes:
    """A body as written, so that it can hold what ``json.dumps`` would not write (NaN, lone surrogate escapes)."""
    return text.encode()


def chat(content: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}]}


# (name, method, url, OpenAPI path, body: bytes sent as JSON or an object to encode, expected status)
HOSTILE = [
    # 5: NaN, Infinity and lone surrogates were 500s on every JSON route
    ("nan-query", "POST", "/search", "/search", raw('{"query": NaN}'), 422),
    ("infinity-top-k", "POST", "/search", "/search", raw('{"query": "ok", "top_k": Infinity}'), 422),
    ("minus-infinity-filter", "POST", "/search", "/search", raw('{"query": "ok", "filters": {"x": -Infinity}}'), 422),
    ("surrogate-query", "POST", "/search", "/search", raw('{"query": "\\ud800"}'), 422),
    ("surrogate-key", "POST", "/search", "/search", raw('{"query": "ok", "filters": {"\\udfff": 1}}'), 422),
    ("chat-nan", "POST", CHAT, CHAT, raw('{"messages": [{"role": "user", "content": "hi"}], "top_k": NaN}'), 422),
    ("chat-surrogate", "POST", CHAT, CHAT, raw('{"messages": [{"role": "user", "content": "\\ud800"}]}'), 422),
    ("web-nan", "POST", "/web-search", "/web-search", raw('{"query": "ok", "count": NaN}'), 422),
    ("web-surrogate", "POST", "/web-search", "/web-search", raw('{"query": "a\\udc00b"}'), 422),
    # 9: a question of control characters only asked nothing but got passages
    ("control-query", "POST", "/search", "/search", {"query": "\u0001\u0002"}, 422),
    ("nul-get", "GET", "/search?q=%00", "/search", None, 422),
    ("c1-get", "GET", "/search?q=%C2%85%C2%9F", "/search", None, 422),
    ("web-control", "POST", "/web-search", "/web-search", {"query": "\u0000", "count": 2}, 422),
    ("chat-control", "POST", CHAT, CHAT, chat("\u0001\u0002"), 422),
    # 9: a number was read as a Unix timestamp
    ("date-int", "POST", "/search", "/search", {"query": "ok", "filters": {"date_to": 0}}, 422),
    ("date-stamp", "POST", "/search", "/search", {"query": "ok", "filters": {"date_from": 1700000000}}, 422),
    ("date-time", "POST", "/search", "/search", {"query": "ok", "filters": {"date_to": "2023-11-09T00:00:00"}}, 422),
    ("date-get", "GET", "/search?q=ok&date_to=0", "/search", None, 422),
    # 10: statuses the schema did not document
    ("no-document", "GET", "/documents/not-an-id", "/documents/{doc_id}", None, 404),
    ("bad-span", "GET", "/documents/not-an-id?start=-1&end=2", "/documents/{doc_id}", None, 422),
    ("not-json", "POST", "/search", "/search", raw("{not json"), 422),
    ("too-deep", "POST", "/search", "/search", raw("[" * 100_000), 422),
    ("not-utf8", "POST", "/search", "/search", b'{"query": "\xff"}', 422),
]
TOO_LARGE = [  # 6: bodies over the limit, whatever the route
    ("big-search", "POST", "/search", "/search", 413),
    ("big-chat", "POST", CHAT, CHAT, 413),
    ("big-web", "POST", "/web-search", "/web-search", 413),
]


def send(client: httpx.Client, method: str, url: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return client.request(method, url, content=body, headers=JSON)
    return client.request(method, url, json=body)


def over_limit(limit: int) -> bytes:
    return json.dumps({"query": "x" * limit}).encode()


def error_validator(openapi: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema`` (as the OpenAPI document declares it, with its $refs into the components)."""
    return Draft202012Validator({**schema, "components": openapi["components"]})


def declared(openapi: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    responses = openapi["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answers {status}, the schema documents {sorted(responses)}"
    return responses[str(status)]["content"]["application/json"]["schema"]


def assert_error_shape(response: httpx.Response, openapi: dict[str, Any]) -> dict[str, Any]:
    """The body is the path's error model (OpenAI's under ``/v1/``), small, and says something; returned as
    ``ErrorOut`` fields (``detail``, and ``errors`` when listed) whichever shape it came in."""
    assert len(response.content) < 4096, f"{len(response.content)} bytes of error"
    body = response.json()
    if response.request.url.path.startswith("/v1/"):
        error_validator(openapi, {"$ref": "#/components/schemas/OpenAIErrorOut"}).validate(body)
        assert body["error"]["message"] and body["error"]["type"]
        return {"detail": body["error"]["message"]}
    error_validator(openapi, {"$ref": "#/components/schemas/ErrorOut"}).validate(body)
    assert body["detail"] and all("input" not in item and "ctx" not in item for item in body.get("errors", []))
    return body


def error_detail(response: httpx.Response) -> str:
    """The error's message in either shape."""
    body = response.json()
    return body["error"]["message"] if "error" in body else body["detail"]
