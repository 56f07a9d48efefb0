"""The routes in-process (FastAPI's TestClient, lifespan included) over the stand-in index of the seeds: filters,
bad requests answered with a 4xx and a reason, the documents routes and their cited spans, web-search links, the
page, the OpenAPI document, and a streamed chat completion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hostile_requests import error_detail


@pytest.fixture(scope="module")
def client(app_client: TestClient) -> TestClient:
    return app_client


def test_filters_restrict_results(client: TestClient) -> None:
    query = "Victory Day celebration"
    by_source = client.post("/search", json={"query": query, "top_k": 10, "filters": {"source": "seeds/004_*"}})
    sources = {r["citation"]["source"] for r in by_source.json()["results"]}
    assert sources == {"seeds/004_ee679f0f8057df01.txt"}
    dated = client.post(
        "/search", json={"query": query, "top_k": 50, "filters": {"date_from": "2023-11-05", "date_to": "2023-11-30"}}
    ).json()["results"]
    assert dated and {r["citation"]["date"] for r in dated} == {"2023-11-09"}
    none = client.post("/search", json={"query": query, "filters": {"source": "nothing/*"}}).json()
    assert none["results"] == []
    undated = client.get("/search", params={"q": query, "k": 50, "date_to": "2030-01-01"}).json()["results"]
    assert all(r["citation"]["date"] is not None for r in undated)


def test_the_response_carries_the_verdict_of_its_passages(client: TestClient) -> None:
    for query in ("Victory Day celebration", "Give me a recipe for chocolate cake."):
        payload = client.post("/search", json={"query": query, "top_k": 5}).json()
        relevances = [r["relevance"] for r in payload["results"]]
        assert all(0 <= r <= 1 for r in relevances)
        assert payload["answerable"] is (max(relevances) >= 0.5)
    assert client.post("/search", json={"query": "x", "filters": {"source": "nothing/*"}}).json()["answerable"] is False


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/search", {"query": ""}, 422),
        ("POST", "/search", {"query": "   "}, 422),
        ("POST", "/search", {"query": "x" * 2001}, 422),
        ("POST", "/search", {"query": "ok", "top_k": 0}, 422),
        ("POST", "/search", {"query": "ok", "top_k": 101}, 422),
        ("POST", "/search", {"query": "ok", "topk": 3}, 422),
        ("POST", "/search", {"query": "ok", "filters": {"colour": "red"}}, 422),
        ("POST", "/search", {"query": "ok", "filters": {"date_from": "2024-01-01", "date_to": "2023-01-01"}}, 422),
        ("POST", "/search", {"query": "ok", "filters": {"date_from": "yesterday"}}, 422),
        ("POST", "/search", {"top_k": 3}, 422),
        ("POST", "/search", {"query": 42}, 422),
        ("POST", "/search", b"{not json", 422),
        ("POST", "/search", b"", 422),
        ("GET", "/search", None, 422),
        ("GET", "/search?q=ok&k=1000", None, 422),
        ("GET", "/search?q=%20", None, 422),
        ("GET", "/search?q=ok&mode=semantic", None, 422),
        ("POST", "/search", {"query": "ok", "mode": "fuzzy"}, 422),
        ("POST", "/search", {"query": "ok", "rerank": True}, 422),
        ("POST", "/v1/chat/completions", {"messages": []}, 422),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "system", "content": "hi"}]}, 422),
        ("POST", "/web-search", {"query": "", "count": 3}, 422),
        ("POST", "/web-search", {"query": "ok", "count": 0}, 422),
        ("GET", "/documents/not-an-id", None, 404),
        ("GET", "/documents/..%2F..%2Fetc%2Fpasswd", None, 404),
        ("GET", "/nowhere", None, 404),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(client: TestClient, method: str, path: str, body, expected: int):
    if isinstance(body, bytes):
        response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == expected, response.text
    assert error_detail(response)


def test_documents_list_and_cited_span(client: TestClient, standin_seed_index) -> None:
    seed_index = standin_seed_index
    documents = client.get("/documents").json()["documents"]
    assert len(documents) == 5
    assert sum(d["chunks"] for d in documents) == seed_index.chunks
    assert {d["source"] for d in documents} == {f"seeds/{p.name}" for p in Path("seeds").iterdir()}
    hit = client.get("/search", params={"q": "Khojaly victims", "k": 1}).json()["results"][0]
    cite = hit["citation"]
    detail = client.get(f"/documents/{cite['doc_id']}", params={"start": cite["start"], "end": cite["end"]}).json()
    assert detail["span"]["text"] == hit["text"]
    assert (detail["span"]["line_start"], detail["span"]["line_end"]) == (cite["line_start"], cite["line_end"])
    assert detail["source"] == cite["source"] and detail["date"] == cite["date"]
    whole = client.get(f"/documents/{cite['doc_id']}").json()
    assert whole["span"] is None and whole["chars"] > cite["end"]
    page = client.get(
        f"/documents/{cite['doc_id']}",
        params={"start": cite["start"], "end": cite["end"]},
        headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert page.headers["content-type"].startswith("text/html")
    assert '<mark id="cited">' in page.text
    for params in ({"start": 5}, {"start": 10, "end": 5}, {"start": 0, "end": 10**9}, {"start": -1, "end": 3}):
        assert client.get(f"/documents/{cite['doc_id']}", params=params).status_code == 422


def test_web_search_links_open_the_cited_span(client: TestClient) -> None:
    results = client.post("/web-search", json={"query": "Which explosive hazards were left?", "count": 3}).json()
    assert len(results) == 3
    for result in results:
        assert set(result) == {"link", "title", "snippet"}
        assert result["link"].startswith(str(client.base_url))
        assert result["title"].startswith("seeds/") and ", line" in result["title"]
        span = client.get(result["link"]).json()["span"]
        assert result["snippet"] == f"{span['text']}\n({result['title']})"  # the passage, then its citation
        assert "sig=" not in result["link"]  # no API key: links need no signature


def test_links_name_the_public_url_when_one_is_set(client: TestClient) -> None:
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"public_url": "https://docs.example.org/rag/"})
    try:
        (result,) = client.post("/web-search", json={"query": "Victory Day", "count": 1}).json()
        chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Victory Day"}]})
    finally:
        client.app.state.settings = settings
    assert result["link"].startswith("https://docs.example.org/rag/documents/")
    urls = [a["url_citation"]["url"] for a in chat.json()["choices"][0]["message"]["annotations"]]
    assert urls and all(u.startswith("https://docs.example.org/rag/documents/") for u in urls)


def test_page_is_served_without_external_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="query"' in page.text and 'fetch("search"' in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_openapi_schema_and_docs(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/search", "/documents", "/documents/{doc_id}", "/ready", "/v1/chat/completions", "/web-search"):
        assert path in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_chat_completion_raw_stream_ends_with_done(client: TestClient) -> None:
    messages = [{"role": "user", "content": "Whose memory is honored?"}]
    body = {"model": "rag-search", "stream": True, "messages": messages}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks[0]["citations"]) == 3  # RAG_CHAT_PASSAGES
    (sources,) = [c for c in chunks if c["choices"][0]["delta"].get("annotations")]
    assert sources["choices"][0]["delta"]["content"].startswith("Sources:\n[1] [")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
