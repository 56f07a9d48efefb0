"""The real HTTP server on loopback: every endpoint, the citation contract over HTTP, and the 4xx cases."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import DEV_QUESTIONS, RunningServer

from rag.batch import read_questions

pytestmark = [pytest.mark.model, pytest.mark.server]


@pytest.fixture(scope="module")
def client(server: RunningServer) -> httpx.Client:
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        yield http


def assert_contract(result: dict, cwd: Path) -> None:
    cite = result["citation"]
    decoded = (cwd / cite["source"]).read_bytes().decode("utf-8")
    assert decoded[cite["start"] : cite["end"]] == result["text"]
    assert cite["line_start"] == decoded.count("\n", 0, cite["start"]) + 1
    assert cite["line_end"] == decoded.count("\n", 0, cite["end"]) + 1


def test_health_and_ready(client: httpx.Client, seed_index) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    assert ready["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert ready["dimension"] == 384
    assert ready["chunks"] == seed_index.chunks and ready["documents"] == 5
    assert ready["index_build_id"] == seed_index.manifest.build_id
    assert ready["index_built_at"] == seed_index.manifest.created_at
    assert ready["mode"] == "hybrid" and ready["reranker"] is None


def test_every_dev_question_over_http_keeps_the_citation_contract(client: httpx.Client, server) -> None:
    for question in read_questions(DEV_QUESTIONS):
        response = client.post("/search", json={"query": question.question, "top_k": 5})
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["query"] == question.question and payload["took_ms"] > 0
        assert [r["rank"] for r in payload["results"]] == [1, 2, 3, 4, 5]
        for result in payload["results"]:
            assert_contract(result, server.cwd)
            assert result["citation"]["source"].startswith("seeds/")


def test_get_search_equals_post(client: httpx.Client) -> None:
    posted = client.post("/search", json={"query": "Which airport is still being built?", "top_k": 3}).json()
    got = client.get("/search", params={"q": "Which airport is still being built?", "k": 3}).json()
    assert got["results"] == posted["results"]
    assert any("Lachin International Airport" in r["text"] for r in got["results"])


def test_filters_restrict_results(client: httpx.Client) -> None:
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
def test_bad_requests_get_a_4xx_with_a_reason(client: httpx.Client, method: str, path: str, body, expected: int):
    if isinstance(body, bytes):
        response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == expected, response.text
    assert response.json()["detail"]


def test_documents_list_and_cited_span(client: httpx.Client, seed_index) -> None:
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


def test_web_search_links_open_the_cited_span(client: httpx.Client) -> None:
    results = client.post("/web-search", json={"query": "Which explosive hazards were left?", "count": 3}).json()
    assert len(results) == 3
    for result in results:
        assert set(result) == {"link", "title", "snippet"}
        assert result["link"].startswith(str(client.base_url))
        assert result["title"].startswith("seeds/") and ", line" in result["title"]
        span = client.get(result["link"]).json()["span"]
        assert span["text"] == result["snippet"]


def test_page_is_served_without_external_assets(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="query"' in page.text and 'fetch("search"' in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_openapi_schema_and_docs(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/search", "/documents", "/documents/{doc_id}", "/ready", "/v1/chat/completions", "/web-search"):
        assert path in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_chat_completion_raw_stream_ends_with_done(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "Whose memory is honored?"}]
    body = {"model": "rag-search", "stream": True, "messages": messages}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks[0]["citations"]) == 5
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_modes_over_http_return_highlighted_sentences(client: httpx.Client) -> None:
    # d02 paraphrases the sentence that holds its answer: BM25 finds it first, dense retrieval does not.
    (question,) = [q for q in read_questions(DEV_QUESTIONS) if q.id == "d02"]
    by_mode = {}
    for mode in ("dense", "bm25", "hybrid"):
        response = client.post("/search", json={"query": question.question, "top_k": 3, "mode": mode})
        assert response.status_code == 200, response.text
        by_mode[mode] = response.json()["results"]
        for result in by_mode[mode]:
            cite, mark = result["citation"], result["highlight"]
            assert cite["start"] <= mark["start"] < mark["end"] <= cite["end"]
    assert by_mode["bm25"] != by_mode["dense"]
    again = client.get("/search", params={"q": question.question, "k": 3, "mode": "bm25"}).json()["results"]
    assert again == by_mode["bm25"]
    top = by_mode["bm25"][0]
    offset = top["citation"]["start"]
    sentence = top["text"][top["highlight"]["start"] - offset : top["highlight"]["end"] - offset]
    assert any(answer in sentence for answer in question.answers)
