"""Hostile requests, in-process (FastAPI's TestClient over the stand-in index): each answers a 4xx that says why,
in the one error shape the OpenAPI schema documents, never a 500 and never an echo of the input; OPTIONS and 405
list every method of a path; HEAD answers on the probe routes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hostile_requests import (
    CHAT,
    HOSTILE,
    JSON,
    TOO_LARGE,
    assert_error_shape,
    declared,
    error_validator,
    over_limit,
    send,
)

from rag.errors import InvalidQueryError
from rag.search.searcher import validate_query


@pytest.fixture(scope="module")
def client(app_client: TestClient) -> TestClient:
    return app_client


@pytest.fixture(scope="module")
def limit(standin_settings) -> int:
    """The app runs with the default body limit."""
    return standin_settings.max_request_bytes


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


@pytest.mark.parametrize(("name", "method", "url", "path", "body", "status"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_request_gets_a_4xx_with_a_reason(client, openapi, name, method, url, path, body, status) -> None:
    response = send(client, method, url, body)
    assert response.status_code == status, response.text[:500]
    error = assert_error_shape(response, openapi)
    if name.startswith(("nan", "infinity", "minus-infinity", "chat-nan", "web-nan")):
        assert "is not a JSON value" in error["detail"]
    if "surrogate" in name:
        assert "surrogate" in error["detail"]
    if "control" in name or name in ("nul-get", "c1-get"):
        assert "empty" in error["detail"]
    if name.startswith("date"):
        assert "YYYY-MM-DD" in error["detail"]


def test_library_refuses_lone_surrogates_and_control_only_questions() -> None:
    from api.routing import decode_json  # here, so that the server tests run against an older api too

    for question in ("\ud800", "ok \udfff", "\x00", "\u0001\u0002", " \x85\x9f\t\x7f "):
        with pytest.raises(InvalidQueryError):
            validate_query(question)
    assert validate_query("\x01 Victory Day \x00") == "Victory Day"
    assert validate_query("\U0001f600 party") == "\U0001f600 party"
    assert decode_json(b'{"q": "\\ud83d\\ude00"}') == {"q": "\U0001f600"}


def test_a_valid_date_still_filters(client: TestClient) -> None:
    body = {"query": "Victory Day", "top_k": 50, "filters": {"date_from": "2023-11-05", "date_to": "2023-11-30"}}
    dated = client.post("/search", json=body)
    assert dated.status_code == 200 and {r["citation"]["date"] for r in dated.json()["results"]} == {"2023-11-09"}
    got = client.get("/search", params={"q": "Victory Day", "k": 50, "date_from": "2023-11-05"})
    assert got.status_code == 200 and got.json()["results"]


def test_errors_list_a_few_problems_and_never_echo_the_input(client: TestClient, limit: int) -> None:
    long_query = "Q" * (limit - 100)
    response = client.post("/search", json={"query": long_query})
    assert response.status_code == 422 and len(response.content) < 2000
    assert "QQQQQQQQ" not in response.text
    many_keys = {"query": "ok", "filters": {f"key{i:06d}": 0 for i in range(50_000)}}
    response = client.post("/search", json=many_keys)
    assert response.status_code == 422 and len(response.content) < 2000, len(response.content)
    assert "unknown field" in response.json()["detail"] and "49997 more" in response.json()["detail"]
    bad_items = {"messages": [{"content": 1}] * 50_000}
    response = client.post(CHAT, json=bad_items)
    assert response.status_code == 422 and len(response.content) < 2000
    error = response.json()["error"]  # OpenAI's shape under /v1/: the first problem, its field in param
    assert error["type"] == "invalid_request_error" and error["param"].startswith("messages")


def test_head_answers_on_the_probe_routes(client: TestClient) -> None:
    for path in ("/health", "/ready"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/search", {"GET", "POST", "OPTIONS"}),
        ("/health", {"GET", "HEAD", "OPTIONS"}),
        ("/documents/abc", {"GET", "DELETE", "OPTIONS"}),
        ("/documents", {"GET", "POST", "OPTIONS"}),
        (CHAT, {"POST", "OPTIONS"}),
    ],
)
def test_options_and_405_list_every_method_of_the_path(client, openapi, path: str, methods: set[str]) -> None:
    options = client.options(path)
    assert options.status_code == 204
    assert set(options.headers["allow"].split(", ")) == methods
    refused = client.request("PATCH", path)
    assert refused.status_code == 405 and set(refused.headers["allow"].split(", ")) == methods
    assert_error_shape(refused, openapi)


def test_openapi_documents_every_status_the_hostile_requests_get(client: TestClient, openapi, limit) -> None:
    """Each status a hostile request receives is documented for its operation, and the body it received
    validates against the schema documented there (the same error model for every 4xx)."""
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    received = [(method, path, send(client, method, url, body)) for _, method, url, path, body, _ in HOSTILE] + [
        (method, path, client.request(method, url, content=over_limit(limit), headers=JSON))
        for _, method, url, path, _ in TOO_LARGE
    ]
    for method, path, response in received:
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        schema = declared(openapi, path, method, response.status_code)
        error_validator(openapi, schema).validate(response.json())
    for response in (client.get("/nowhere"), client.put("/search")):  # no operation to document these on
        assert_error_shape(response, openapi)
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, declared_response in operation["responses"].items():
                if status.startswith("4"):
                    ref = declared_response["content"]["application/json"]["schema"]["$ref"]
                    model = "OpenAIErrorOut" if path.startswith("/v1/") else "ErrorOut"  # OpenAI's shape there
                    assert ref == f"#/components/schemas/{model}", (method, path, status)
    assert "securitySchemes" not in openapi["components"]  # no key, no scheme
