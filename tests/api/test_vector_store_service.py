"""``rag serve`` over a Milvus store (stand-in model): searches with citations and filters answer as they do on
FAISS, ``/ready`` reports the store and its count, and an incremental ``rag index`` that deletes a file takes its
passages out of the collection and out of the service's answers. On a real Milvus server on loopback, and on
Milvus Lite (whose folder one process holds at a time, so there the service stops for the update)."""

from __future__ import annotations

import shutil
import time
import uuid
from fnmatch import fnmatchcase
from pathlib import Path

import httpx
import pytest
from conftest import SEEDS, RunningServer

from rag.index.build import build_index
from rag.index.dense import StoreLocation
from rag.index.dense.milvus import MilvusCollection
from rag.index.reader import open_index
from rag.search.searcher import Searcher

QUESTION = "In which city did the embassy hold the 2023 Victory Day event?"


def search(server: RunningServer, **body) -> list[dict]:
    response = httpx.post(f"{server.base_url}/search", json={"query": QUESTION, "top_k": 5, **body}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def wait_for_build(server: RunningServer, build_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = httpx.get(f"{server.base_url}/ready", timeout=30).json()
        if ready["index_build_id"] == build_id:
            return ready
        time.sleep(0.3)
    raise AssertionError(f"the service never served build {build_id}: {ready}")


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.parametrize("store", ["milvus", "milvus-lite"])
def test_the_service_answers_from_milvus_with_citations_filters_and_deletes(
    tmp_path: Path, standin_settings, standin_embedder, standin_env, store: str, request
) -> None:
    uri = request.getfixturevalue("milvus_server") if store == "milvus" else f"milvus-lite:{tmp_path / 'lite.db'}"
    collection = f"test_{uuid.uuid4().hex[:12]}"
    settings = standin_settings.model_copy(update={"vector_store": uri, "milvus_collection": collection})
    corpus, index_dir = tmp_path / "seeds", tmp_path / "index"
    shutil.copytree(SEEDS, corpus)
    first = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    on_faiss = standin_settings.model_copy(update={"vector_store": "index"})
    env = standin_env | {"RAG_VECTOR_STORE": uri, "RAG_MILVUS_COLLECTION": collection, "RAG_RELOAD_INTERVAL": "0.3"}
    server = RunningServer(index_dir, cwd=tmp_path, env=env)
    try:
        ready = httpx.get(f"{server.base_url}/ready", timeout=30).json()
        assert ready["vector_store"] == {
            "kind": store, "address": uri if store == "milvus" else None, "vectors": first.chunks
        }  # fmt: skip
        with Searcher(open_index(index_dir, on_faiss), standin_embedder, on_faiss, display_root=tmp_path) as local:
            for mode in ("dense", "hybrid"):
                hits = search(server, mode=mode)
                want = local.search(QUESTION, 5, mode=mode)
                assert [(h["citation"]["source"], h["citation"]["start"]) for h in hits] == [
                    (h.citation.source, h.citation.start) for h in want
                ], mode
        for hit in search(server, mode="dense"):  # the citation contract, through HTTP
            cite = hit["citation"]
            assert (tmp_path / cite["source"]).read_text(encoding="utf-8")[cite["start"] : cite["end"]] == hit["text"]
        filtered = search(server, mode="dense", filters={"source": "seeds/00[13]*", "date_from": "2023-11-05"})
        assert filtered and all(fnmatchcase(h["citation"]["source"], "seeds/00[13]*") for h in filtered)
        assert all(h["citation"]["date"] >= "2023-11-05" for h in filtered)
        removed = "seeds/" + Path(search(server, mode="dense")[0]["citation"]["source"]).name
        (tmp_path / removed).unlink()
        if store == "milvus-lite":  # one process per Lite folder: the service lets go of it for the update
            server.stop()
        update = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
        assert update.removed == 1 and update.chunks < first.chunks
        with MilvusCollection.connect(StoreLocation.parse(uri), settings) as held:
            assert held.count() == update.chunks  # the deleted file's vectors left the collection
        if store == "milvus-lite":
            server = RunningServer(index_dir, cwd=tmp_path, env=env)
        ready = wait_for_build(server, update.manifest.build_id)
        assert ready["vector_store"]["vectors"] == ready["chunks"] == update.chunks
        for mode in ("dense", "hybrid"):
            assert removed not in {h["citation"]["source"] for h in search(server, mode=mode, top_k=20)}
    finally:
        server.stop()
