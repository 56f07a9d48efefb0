"""Documents added, replaced and removed over HTTP (POST and DELETE /documents), end to end against the real
server while a client keeps searching: no search fails, an upload is found as soon as its answer arrives, a
deleted document is gone, and a running writer is waited for and then answered with 409."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SEEDS, RunningServer

from rag.index.build import build_index
from rag.index.lock import writer_lock

pytestmark = [pytest.mark.slow, pytest.mark.server]

KEY = "upload-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, standin_settings, standin_embedder, standin_env) -> Iterator:
    root = tmp_path_factory.mktemp("uploads")
    shutil.copytree(SEEDS, root / "seeds")
    build_index([root / "seeds"], standin_settings, index_dir=root / "index", embedder=standin_embedder)
    env = standin_env | {
        "RAG_API_KEY": KEY,
        "RAG_RELOAD_INTERVAL": "0",  # an upload switches builds itself
        "RAG_UPLOAD_LOCK_WAIT": "1",
        "RAG_MAX_FILE_BYTES": "200000",
        "RAG_UPLOAD_MAX_REQUEST_BYTES": "500000",
    }
    running = RunningServer(root / "index", cwd=root, env=env)
    yield running
    running.stop()


def search(client: httpx.Client, query: str) -> list[dict]:
    response = client.post("/search", json={"query": query, "top_k": 5, "mode": "bm25"})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_upload_replace_and_delete_while_searching(server: RunningServer) -> None:
    from test_reload import Searching

    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=120) as client, Searching(
        server.base_url, headers=AUTH
    ) as searching:  # fmt: skip
        memo = "# Harbour memo\n\nThe quartermaster counted forty-two brass lanterns in the east warehouse.\n"
        added = client.post("/documents", files=[("files", ("memo.md", memo.encode(), "text/markdown"))])
        assert added.status_code == 200, added.text
        body = added.json()
        (outcome,) = body["files"]
        assert outcome["status"] == "added" and outcome["document"]["chunks"] >= 1
        assert outcome["document"]["source"].endswith("uploads/memo.md")
        doc_id = outcome["doc_id"]
        hits = search(client, "quartermaster brass lanterns warehouse")
        assert hits[0]["citation"]["doc_id"] == doc_id and "forty-two brass lanterns" in hits[0]["text"]
        assert body["documents"] == len(list(SEEDS.iterdir())) + 1

        replaced = memo.replace("forty-two brass lanterns", "seventeen copper kettles")
        updated = client.post("/documents", files=[("files", ("memo.md", replaced.encode(), "text/markdown"))])
        assert updated.json()["files"][0]["status"] == "updated"
        hits = search(client, "quartermaster copper kettles warehouse")
        assert hits[0]["citation"]["doc_id"] == doc_id and "seventeen copper kettles" in hits[0]["text"]
        assert all("brass lanterns" not in hit["text"] for hit in search(client, "brass lanterns"))

        deleted = client.delete(f"/documents/{doc_id}")
        assert deleted.status_code == 200 and deleted.json()["files"][0]["status"] == "removed"
        assert client.get(f"/documents/{doc_id}").status_code == 404
        hits = search(client, "quartermaster copper kettles warehouse")
        assert all(hit["citation"]["doc_id"] != doc_id for hit in hits)
        assert deleted.json()["documents"] == len(list(SEEDS.iterdir()))

        searched = len(searching.statuses)
        deadline = time.monotonic() + 30
        while len(searching.statuses) < searched + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(searching.statuses) > 3
    assert set(searching.statuses) == {200}, f"{len([s for s in searching.statuses if s != 200])} searches failed"


def test_an_upload_waits_for_a_running_writer_then_answers_409(server: RunningServer) -> None:
    note = [("files", ("note.txt", b"A note about the tide tables of the northern pier.\n", "text/plain"))]
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=120) as client:
        with writer_lock(server.index_dir):  # this test process is "rag index" now
            started = time.monotonic()
            refused = client.post("/documents", files=note)
            assert refused.status_code == 409, refused.text
            assert time.monotonic() - started >= 1.0  # RAG_UPLOAD_LOCK_WAIT
            assert "another rag index is writing" in refused.json()["detail"] and "pid" in refused.json()["detail"]
            assert not (server.index_dir / "uploads" / "note.txt").exists()
        accepted = client.post("/documents", files=note)
        assert accepted.status_code == 200 and accepted.json()["files"][0]["status"] == "added"
        assert client.delete(f"/documents/{accepted.json()['files'][0]['doc_id']}").status_code == 200


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ([("files", ("tool.exe", b"MZ", "application/octet-stream"))], 415, "'.exe' is not accepted"),
        ([("files", ("big.txt", b"word " * 50_000, "text/plain"))], 413, "RAG_MAX_FILE_BYTES"),
        ([("files", (f"n{i}.txt", b"w " * 30_000, "text/plain")) for i in range(10)], 413, "RAG_UPLOAD_MAX_REQUEST"),
        ([("files", ("../escape.txt", b"x", "text/plain"))], 422, "without folders"),
        ([("other", ("a.txt", b"x", "text/plain"))], 422, "files"),
    ],
)
def test_bad_uploads_get_a_4xx_with_the_reason_and_change_nothing(server: RunningServer, files, status, message):
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=120) as client:
        before = client.get("/ready").json()["index_build_id"]
        response = client.post("/documents", files=files)
        assert response.status_code == status, response.text
        assert message in response.json()["detail"]
        assert client.get("/ready").json()["index_build_id"] == before
    assert not any(Path(server.index_dir, "uploads").glob("*"))


def test_uploads_and_deletes_need_the_key_and_folder_documents_cannot_be_deleted(server: RunningServer) -> None:
    note = [("files", ("note.txt", b"Unauthorised words.\n", "text/plain"))]
    assert httpx.post(f"{server.base_url}/documents", files=note, timeout=60).status_code == 401
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=120) as client:
        seed = client.get("/documents").json()["documents"][0]
        assert httpx.delete(f"{server.base_url}/documents/{seed['doc_id']}", timeout=60).status_code == 401
        refused = client.delete(f"/documents/{seed['doc_id']}")
        assert refused.status_code == 409 and "not uploaded" in refused.json()["detail"]
        assert client.delete("/documents/0000000000000000").status_code == 404
        assert client.get(f"/documents/{seed['doc_id']}").status_code == 200
