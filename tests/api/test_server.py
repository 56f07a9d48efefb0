"""The real HTTP server on loopback with the real model: health and readiness, the dev questions over HTTP with
the citation contract, GET equal to POST, and the modes' highlighted sentences. Route logic that needs no real
process is tested in-process, in ``test_routes.py`` and ``test_errors.py``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import DEV_QUESTIONS, RunningServer

from rag.batch import read_questions

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.server]


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
