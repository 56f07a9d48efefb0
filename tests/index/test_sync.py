"""Keeping the index in step with the folder: incremental updates with real deletes, the embedding cache, the
writer lock, a SIGKILL in the middle of an update, watching, and hot reload in the running service."""

from __future__ import annotations

import copy
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import RunningServer

from rag.errors import IndexLockedError
from rag.index.build import build_index
from rag.index.embedding_cache import CACHE_NAME
from rag.index.lock import writer_lock
from rag.index.manifest import read_manifest
from rag.index.reader import open_index
from rag.search.searcher import Searcher

WORDS = (
    "river mountain copper lantern harvest orchard violin glacier meadow compass harbor canyon falcon "
    "cedar marble thunder pepper saddle quartz willow beacon timber velvet ember prairie tundra cobalt "
    "garnet juniper lagoon maple nectar obsidian pebble quiver raven sable thistle umber walnut"
).split()


def write_corpus(folder: Path, files: int, sentences: int = 3, seed: int = 0) -> None:
    """``files`` small documents of random words, each with a unique serial phrase."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        body = " ".join(" ".join(rng.choices(WORDS, k=12)).capitalize() + "." for _ in range(sentences))
        (folder / f"note_{n:04d}.txt").write_text(f"Note number {n}. {body}\n", encoding="utf-8")


class CountingEmbedder:
    """An embedder, counting the passages it is asked to embed."""

    def __init__(self, embedder) -> None:
        self.inner = copy.copy(embedder)
        self.passages = 0
        original = self.inner.embed_passages_with_sentences

        def counted(texts, spans, **kwargs):
            self.passages += len(texts)
            return original(texts, spans, **kwargs)

        self.inner.embed_passages_with_sentences = counted


def rag(*args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | (env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "rag", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kwargs,
    )  # fmt: skip


def test_editing_one_of_200_files_re_embeds_only_its_passages(
    tmp_path: Path, standin_settings, standin_embedder
) -> None:
    settings, embedder = standin_settings, standin_embedder
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    write_corpus(corpus, 200)
    counting = CountingEmbedder(embedder)
    first = build_index([corpus], settings, index_dir=index_dir, embedder=counting.inner)
    assert first.added == 200 and first.documents == 200 and counting.passages == first.chunks == first.embedded

    edited = corpus / "note_0042.txt"
    old_text = edited.read_text()
    edited.write_text("Note number 42. The zebra lighthouse of Quillbrook flashes violet every ninety seconds.\n")
    (corpus / "note_0007.txt").unlink()
    counting.passages = 0
    update = build_index([corpus], settings, index_dir=index_dir, embedder=counting.inner)
    assert (update.added, update.updated, update.removed, update.unchanged) == (0, 1, 1, 198)
    assert counting.passages == update.embedded == 1  # the edited file's one passage, nothing else
    assert not update.rebuilt and update.documents == 199

    with Searcher(open_index(index_dir, settings), embedder, settings) as searcher:
        assert len(searcher.index.vectors) == update.chunks == searcher.index.store.count_chunks()
        for mode in ("dense", "bm25", "hybrid"):
            (top, *_) = searcher.search("Which lighthouse flashes violet?", 3, mode=mode)
            assert top.citation.source.endswith("note_0042.txt") and "Quillbrook" in top.text
            old_hits = searcher.search(old_text, 10, mode=mode)
            assert all(h.text not in old_text for h in old_hits), "a passage of the old version is still indexed"
            assert not any(h.citation.source.endswith("note_0007.txt") for h in old_hits)
        documents = {d.source.rsplit("/", 1)[-1] for d in searcher.index.store.documents()}
        assert "note_0007.txt" not in documents and "note_0042.txt" in documents
        # whole-document BM25 follows the update: the edited note is the best document for its new words
        whole = searcher.index.documents
        assert len(whole) == 199 and len(searcher.index.segments) == 2  # the first build's, and the update's
        assert searcher.index.segments[0].info.deleted_documents == 2  # the edited note's old version and note 7
        best = int(np.argmax(whole.scores("zebra lighthouse Quillbrook")))
        edited_chunks = [c for c, d in searcher.index.store.chunk_doc_ids().items() if d.endswith("note_0042.txt")]
        assert whole.documents_of(np.array(edited_chunks)).tolist() == [best] * len(edited_chunks)

    counting.passages = 0
    again = build_index([corpus], settings, index_dir=index_dir, embedder=counting.inner)
    assert not again.changed and again.manifest.build_id == update.manifest.build_id and counting.passages == 0
    rebuilt = build_index([corpus], settings, index_dir=index_dir, embedder=counting.inner, full=True)
    assert rebuilt.rebuilt and rebuilt.chunks == update.chunks
    assert counting.passages == 0, "a full rebuild embedded passages the cache already had"


def test_moving_the_indexed_folder_keeps_every_doc_id(tmp_path: Path, standin_settings, standin_embedder) -> None:
    settings, embedder = standin_settings, standin_embedder
    first_home, index_dir = tmp_path / "one" / "notes", tmp_path / "idx"
    write_corpus(first_home, 12)
    (first_home / "deeper").mkdir()
    (first_home / "deeper" / "note_0003.txt").write_text("A note with the same name one folder down.\n")
    before = build_index([first_home], settings, index_dir=index_dir, embedder=embedder)
    with open_index(index_dir, settings) as index:
        ids = {d.source.split("/notes/", 1)[1]: d.doc_id for d in index.store.documents()}
    assert len(ids) == len(set(ids.values())) == before.documents == 13
    second_home = tmp_path / "two" / "elsewhere" / "notes"
    second_home.parent.mkdir(parents=True)
    first_home.rename(second_home)
    counting = CountingEmbedder(embedder)
    moved = build_index([second_home], settings, index_dir=index_dir, embedder=counting.inner)
    assert (moved.added, moved.removed, moved.unchanged) == (0, 0, 13) and counting.passages == 0
    with open_index(index_dir, settings) as index:
        after = {d.source.split("/notes/", 1)[1]: d.doc_id for d in index.store.documents()}
        assert all(d.source.startswith(str(second_home)) for d in index.store.documents())
    assert after == ids


def test_removing_files_only_does_not_load_the_model(
    tmp_path: Path, standin_settings, standin_embedder, monkeypatch
) -> None:
    settings = standin_settings
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    write_corpus(corpus, 5)
    build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    (corpus / "note_0002.txt").unlink()

    def no_model(*_args, **_kwargs):
        raise AssertionError("the model was loaded for a removal")

    monkeypatch.setattr("rag.index.build.Embedder.from_settings", no_model)
    removed = build_index([corpus], settings, index_dir=index_dir)  # no embedder given: it would have to load one
    assert (removed.removed, removed.documents, removed.embedded) == (1, 4, 0)
    with open_index(index_dir, settings) as index:
        assert index.manifest.model.dimension == standin_embedder.dimension
        assert len(index.vectors) == index.store.count_chunks() == removed.chunks


def test_a_damaged_embedding_cache_is_replaced_not_trusted(tmp_path: Path, standin_settings, standin_embedder) -> None:
    settings, embedder = standin_settings, standin_embedder
    write_corpus(tmp_path / "notes", 3)
    build_index([tmp_path / "notes"], settings, index_dir=tmp_path / "idx", embedder=embedder)
    (tmp_path / "idx" / CACHE_NAME).write_bytes(b"this is not a database" * 100)
    report = build_index([tmp_path / "notes"], settings, index_dir=tmp_path / "idx", embedder=embedder, full=True)
    assert report.embedded == report.chunks == 3


def test_a_second_writer_fails_with_a_clear_message(tmp_path: Path, settings) -> None:
    write_corpus(tmp_path / "notes", 2)
    with writer_lock(tmp_path / "idx"):
        with writer_lock(tmp_path / "idx"):  # the holding thread may take it again (an upload builds under it)
            pass
        outcome: list[BaseException | str] = []
        other = threading.Thread(target=lambda: outcome.append(_try_lock(tmp_path / "idx", wait=0.3)))
        started = time.monotonic()
        other.start()
        other.join()
        assert time.monotonic() - started >= 0.3  # waited for it, then gave up
        assert isinstance(outcome[0], IndexLockedError) and "(waited 0.3 s)" in str(outcome[0])
        second = rag("index", "notes", "--index", "idx", cwd=tmp_path)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 1
        assert f"another rag index is writing idx/ (pid {os.getpid()}" in err and "Traceback" not in err
    with writer_lock(tmp_path / "idx"):  # released: taken again at once
        pass


def test_a_waiting_writer_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    outcome: list[BaseException | str] = []
    with writer_lock(tmp_path / "idx"):
        other = threading.Thread(target=lambda: outcome.append(_try_lock(tmp_path / "idx", wait=30)))
        other.start()
        time.sleep(0.3)
        assert not outcome  # still waiting
    other.join(timeout=30)
    assert outcome == ["locked"]


def _try_lock(index_dir: Path, wait: float) -> BaseException | str:
    try:
        with writer_lock(index_dir, wait=wait):
            return "locked"
    except IndexLockedError as exc:
        return exc


@pytest.mark.slow  # a rag subprocess that loads a model
def test_sigkill_during_a_large_update_leaves_the_previous_index_whole(
    tmp_path: Path, standin_settings, standin_embedder, standin_env
) -> None:
    settings, embedder = standin_settings, standin_embedder
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    write_corpus(corpus, 150, sentences=2, seed=1)
    before = build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    write_corpus(corpus, 600, sentences=2, seed=2)  # rewrites the 150 and adds 450: about 600 passages to embed
    cache = index_dir / CACHE_NAME
    cached_before = _cache_rows(cache)

    # One passage per model call: the stand-in is so quick that the update would otherwise end before the kill.
    writer = rag("index", "notes", "--index", "idx", cwd=tmp_path, env=standin_env | {"RAG_BATCH_SIZE": "1"})
    deadline = time.monotonic() + 180
    while _cache_rows(cache) < cached_before + 256:  # the first slice of new vectors is committed: mid-update
        assert writer.poll() is None, writer.communicate()[1]
        assert time.monotonic() < deadline, "the update never got going"
        time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    assert read_manifest(index_dir).build_id == before.manifest.build_id
    with Searcher(open_index(index_dir, settings), embedder, settings) as searcher:  # checksums verified
        assert searcher.index.store.count_documents() == 150
        (top, *_) = searcher.search("Note number 17.", 1, mode="bm25")
        assert top.citation.source.endswith("note_0017.txt")

    finished = build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    assert finished.documents == 600 and finished.updated == 150 and finished.added == 450
    assert finished.embedded <= finished.chunks - 256, "the vectors computed before the kill were not reused"
    leftovers = {p.name for p in index_dir.iterdir()} - {"manifest.json", "index.lock", CACHE_NAME}
    leftovers -= {f.name.split("/")[0] for f in finished.manifest.files.values()}
    assert not {n for n in leftovers if not n.startswith(CACHE_NAME)}, leftovers


def _cache_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_watch_picks_up_a_new_file(tmp_path: Path, standin_settings) -> None:
    settings = standin_settings
    from rag.watch import watch_and_sync

    write_corpus(tmp_path / "notes", 3)
    reports, errors, stop = [], [], threading.Event()
    thread = threading.Thread(
        target=watch_and_sync,
        args=([tmp_path / "notes"], settings),
        kwargs={"index_dir": tmp_path / "idx", "on_update": reports.append, "on_error": errors.append,
                "debounce_ms": 300, "stop": stop},
    )  # fmt: skip
    thread.start()
    try:
        _wait_for(lambda: len(reports) == 1, 120)
        (tmp_path / "notes" / "fresh.md").write_text("# Fresh\n\nA note about saffron kites over Tbilisi.\n")
        (tmp_path / "notes" / ".hidden.txt").write_text("never indexed")
        _wait_for(lambda: len(reports) >= 2, 60)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors
    assert reports[0].added == 3 and (reports[1].added, reports[1].unchanged) == (1, 3)


def _wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.server
def test_the_service_switches_to_a_new_build_without_failing_a_request(
    tmp_path: Path, standin_settings, standin_embedder, standin_env
) -> None:
    settings, embedder = standin_settings, standin_embedder
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    write_corpus(corpus, 40)
    build_index([corpus], settings, index_dir=index_dir, embedder=embedder)
    server = RunningServer(index_dir, cwd=tmp_path, env=standin_env | {"RAG_RELOAD_INTERVAL": "0.2"})
    question = "Which lighthouse flashes violet every ninety seconds?"
    statuses: list[int] = []
    tops: list[list[str]] = [[], []]  # per client, in the order each one saw them
    stop = threading.Event()

    def ask(seen: list[str]) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            while not stop.is_set():
                response = client.post("/search", json={"query": question, "top_k": 3})
                statuses.append(response.status_code)
                if response.status_code == 200:
                    seen.append(response.json()["results"][0]["citation"]["source"])

    try:
        build_before = httpx.get(f"{server.base_url}/ready").json()["index_build_id"]
        threads = [threading.Thread(target=ask, args=(seen,)) for seen in tops]
        for thread in threads:
            thread.start()
        _wait_for(lambda: len(statuses) >= 10, 60)
        (corpus / "lighthouse.txt").write_text(
            "The zebra lighthouse of Quillbrook flashes violet every ninety seconds."
        )
        build_index([corpus], settings, index_dir=index_dir, embedder=embedder)  # the writer runs beside the server
        _wait_for(lambda: all(seen and seen[-1] == "notes/lighthouse.txt" for seen in tops), 60)
        seen = len(statuses)
        _wait_for(lambda: len(statuses) >= seen + 10, 60)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        ready = httpx.get(f"{server.base_url}/ready").json()
    finally:
        stop.set()
        server.stop()
    assert set(statuses) == {200}, f"{len([s for s in statuses if s != 200])} requests failed"
    for seen in tops:
        assert seen[0] != "notes/lighthouse.txt"  # before the update
        switched = seen.index("notes/lighthouse.txt")
        assert all(t == "notes/lighthouse.txt" for t in seen[switched:])  # and never back
    assert ready["index_build_id"] != build_before and ready["documents"] == 41 and ready["reload_error"] is None


def test_the_watch_filter_keeps_indexed_files_below_hidden_roots(tmp_path: Path) -> None:
    import watchfiles

    from rag.watch import CorpusFilter

    root = tmp_path / ".notes"  # a hidden folder the user chose to index
    accept = CorpusFilter([root])
    added = watchfiles.Change.added
    assert accept(added, str(root / "a.md")) and accept(added, str(root / "sub" / "b.pdf"))
    assert not accept(added, str(root / ".draft.md"))  # hidden below the root
    assert not accept(added, str(root / ".git" / "x.txt"))
    assert not accept(added, str(root / "image.png"))
