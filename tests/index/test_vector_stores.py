"""What only a Milvus store has to get right (stand-in model, real Milvus Lite): filters too scattered to send as
ranges, a collection out of step with the index refused and then brought back in step by the next build, and
clear errors for a server that does not answer and a Lite folder another process holds. The search, citation,
filter and delete tests shared with FAISS are parametrised over the stores in ``test_segments.py``,
``test_searcher.py`` and ``tests/api/test_vector_store_service.py``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_segments import write_note

from rag.errors import VectorStoreError
from rag.index.build import build_index
from rag.index.dense import milvus
from rag.index.dense.marker import MARKER_NAME, read_marker
from rag.index.dense.milvus import MilvusCollection, _expression
from rag.index.dense.mirror import VectorMirror
from rag.index.reader import Selection, open_index
from rag.search.searcher import Searcher
from rag.settings import Settings, StoreLocation
from rag.types import SearchFilters
from tests.conftest import free_port, store_settings


def lite(settings: Settings, tmp_path: Path, request) -> Settings:
    return settings.model_copy(update=store_settings("milvus-lite", request, tmp_path))


def notes_on_lite(settings: Settings, tmp_path: Path, request, notes: int) -> tuple[Settings, Path, Path]:
    """Settings on Milvus Lite, a folder of ``notes`` notes, and where their index goes: (settings, corpus, index)."""
    corpus = tmp_path / "notes"
    for n in range(notes):
        write_note(corpus, n)
    return lite(settings, tmp_path, request), corpus, tmp_path / "idx"


def test_a_filter_becomes_ranges_of_chunk_ids_or_a_list_or_nothing(monkeypatch) -> None:
    ids = np.asarray([3, 4, 5, 9, 10, 20], dtype=np.int64)
    searchable = np.asarray([True, True, False, True, True, True])
    two = "((chunk_id >= 3 and chunk_id <= 4) or (chunk_id >= 9 and chunk_id <= 20))"
    assert _expression(ids, searchable, 5) == two
    three = np.asarray([True, False, True, False, True, True])
    assert _expression(ids, three, 4) == "(chunk_id == 3 or (chunk_id == 5 or (chunk_id >= 10 and chunk_id <= 20)))"
    assert _expression(ids, np.asarray([False, False, True, False, False, False]), 1) == "chunk_id == 5"
    monkeypatch.setattr(milvus, "MAX_RANGES", 1)
    assert _expression(ids, searchable, 5) == "chunk_id in [3,4,9,10,20]"
    monkeypatch.setattr(milvus, "MAX_LISTED", 4)
    assert _expression(ids, searchable, 5) == ""


@pytest.mark.parametrize(("ranges", "listed"), [(1, 100_000), (1, 1)], ids=["id-list", "wider-result"])
def test_scattered_filters_find_what_faiss_finds(
    tmp_path: Path, standin_settings, standin_embedder, monkeypatch, request, ranges: int, listed: int
) -> None:
    """A filter sent as a list of ids, or applied to a wider result (and exactly when that is not enough)."""
    monkeypatch.setattr(milvus, "MAX_RANGES", ranges)
    monkeypatch.setattr(milvus, "MAX_LISTED", listed)
    corpus = tmp_path / "notes"
    for n in range(60):
        write_note(corpus, n)
    on_milvus, on_faiss = lite(standin_settings, tmp_path, request), standin_settings
    build_index([corpus], on_milvus, index_dir=tmp_path / "milvus-idx", embedder=standin_embedder)
    build_index([corpus], on_faiss, index_dir=tmp_path / "faiss-idx", embedder=standin_embedder)
    monkeypatch.chdir(tmp_path)
    with (
        Searcher(open_index(tmp_path / "milvus-idx", on_milvus), standin_embedder, on_milvus) as milvus_searcher,
        Searcher(open_index(tmp_path / "faiss-idx", on_faiss), standin_embedder, on_faiss) as faiss_searcher,
    ):
        for source in ("notes/sub1/*", "*note_0[13]?.txt", "notes/sub[!0]/*"):
            filters = SearchFilters(source=source)
            for query in ("glacier ice", "Version 0 of note 31"):
                got = milvus_searcher.search(query, 10, filters, mode="dense")
                want = faiss_searcher.search(query, 10, filters, mode="dense")
                assert [(h.citation.source, h.citation.start) for h in got] == [
                    (h.citation.source, h.citation.start) for h in want
                ], (source, query)
                assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)


def test_a_collection_out_of_step_is_refused_and_the_next_build_writes_it_whole(
    tmp_path: Path, standin_settings, standin_embedder, request
) -> None:
    settings, corpus, index_dir = notes_on_lite(standin_settings, tmp_path, request, 12)
    build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    assert read_marker(index_dir).chunks == 12
    # A build whose Milvus writes were cut short: the commit point moved on, the marker did not.
    write_note(corpus, 3, version=1)
    (corpus / "sub1" / "note_004.txt").unlink()
    build_index([corpus], settings.model_copy(update={"vector_store": "index"}), index_dir=index_dir,
                embedder=standin_embedder)  # fmt: skip
    with pytest.raises(VectorStoreError, match=r"holds build .* not the index's build .* run rag index again"):
        open_index(index_dir, settings)
    # ... and a row the index no longer has, left behind in the collection.
    with MilvusCollection.connect(milvus.StoreLocation.parse(settings.vector_store), settings) as collection:
        dimension = collection.dimension()
        collection.upsert(np.asarray([10_000]), np.ones((1, dimension), dtype=np.float32) / np.sqrt(dimension))
    mirror = VectorMirror.before_build(index_dir, settings)
    assert mirror.before is None  # not in step: the whole collection is rewritten
    report = mirror.after_build()
    assert report.resynced and report.deleted >= 2 and report.added == 11  # note 4's and the stray row
    with Searcher(open_index(index_dir, settings), standin_embedder, settings) as searcher:
        assert searcher.index.vectors.status().vectors == 11
        assert "note_003.txt" in searcher.search("Version 1 of note 3", 1, mode="dense")[0].citation.source
    assert json.loads((index_dir / MARKER_NAME).read_text())["chunks"] == 11


def test_an_index_never_written_to_milvus_says_how_to_write_it(tmp_path: Path, standin_settings, request) -> None:
    corpus = tmp_path / "notes"
    write_note(corpus, 1)
    build_index([corpus], standin_settings, index_dir=tmp_path / "idx")
    with pytest.raises(VectorStoreError, match=r"has not been written to Milvus collection .* run rag index"):
        open_index(tmp_path / "idx", lite(standin_settings, tmp_path, request))


def test_a_server_that_does_not_answer_fails_fast_with_its_address(tmp_path: Path, standin_settings) -> None:
    corpus = tmp_path / "notes"
    write_note(corpus, 1)
    uri = f"http://127.0.0.1:{free_port()}"
    settings = standin_settings.model_copy(update={"vector_store": uri})
    started = time.monotonic()
    with pytest.raises(VectorStoreError, match=f"no Milvus server answers at {uri}"):
        build_index([corpus], settings, index_dir=tmp_path / "idx")
    assert time.monotonic() - started < 30
    assert read_marker(tmp_path / "idx") is None  # the index folder is written; the store is not in step


def test_a_lite_folder_another_process_holds_is_named_in_the_error(tmp_path: Path, standin_settings) -> None:
    path = tmp_path / "held.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from pymilvus import MilvusClient; MilvusClient({str(path)!r}); print('open', "
         "flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        settings = standin_settings.model_copy(update={"vector_store": f"milvus-lite:{path}"})
        with pytest.raises(VectorStoreError, match="Milvus Lite allows one process per folder"):
            MilvusCollection.connect(milvus.StoreLocation.parse(settings.vector_store), settings)
    finally:
        holder.kill()
        holder.wait()


def test_a_selection_keeping_nothing_searches_nothing(tmp_path: Path, standin_settings, standin_embedder, request):
    settings, corpus, index_dir = notes_on_lite(standin_settings, tmp_path, request, 3)
    build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    with open_index(index_dir, settings) as index:
        nothing = Selection(np.zeros(len(index.ids), dtype=bool))
        scores, ids = index.vectors.search(standin_embedder.embed_queries(["note"]), 4, nothing)
        assert ids.tolist() == [[-1] * 4] and scores.tolist() == [[0.0] * 4]
        scores, ids = index.vectors.search(standin_embedder.embed_queries(["note"]), 4)
        assert sorted(ids[0][:3].tolist()) == sorted(index.ids.tolist()) and ids[0][3] == -1


def test_a_dropped_collection_is_written_again_by_the_next_build(
    tmp_path: Path, standin_settings, standin_embedder, request
) -> None:
    """The marker names the build, but the collection is gone (dropped, or another server at that address)."""
    settings, corpus, index_dir = notes_on_lite(standin_settings, tmp_path, request, 5)
    first = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    assert first.vector_store.added == 5 and first.vector_store.resynced
    again = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    assert not again.changed and again.vector_store.added == 0  # in step: nothing written
    with MilvusCollection.connect(milvus.StoreLocation.parse(settings.vector_store), settings) as collection:
        collection.drop()
    healed = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    assert not healed.changed and healed.vector_store.resynced and healed.vector_store.added == 5
    with open_index(index_dir, settings) as index:
        assert index.vectors.status().vectors == 5


@pytest.mark.parametrize("setting", ["bogus", "milvus-lite:  ", "grpc://host:19530", ""])
def test_a_vector_store_setting_that_names_no_store_is_refused_with_the_forms_that_do(setting: str) -> None:
    with pytest.raises(ValueError, match="is not a store: use 'index', 'milvus-lite:PATH' or 'http://host:19530'"):
        Settings(vector_store=setting)


def test_the_vector_store_setting_is_read_once_into_a_location(tmp_path: Path) -> None:
    assert StoreLocation.parse(" index ").kind == "index"
    lite = StoreLocation.parse(f"milvus-lite:{tmp_path}/vectors")
    assert (lite.kind, lite.uri) == ("milvus-lite", f"{tmp_path}/vectors.db")
    server = StoreLocation.parse("http://user:secret@milvus.local:19530/")
    assert (server.kind, server.address) == ("milvus", "http://milvus.local:19530")  # no credentials shown
