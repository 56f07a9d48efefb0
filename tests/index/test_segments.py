"""The segmented index end to end (stand-in model, real files): deletions across segments, merges, filters
resolved in SQL into masks (against a brute-force reference), filters on an approximate (HNSW) segment, reuse of
unchanged segments by a reload, and the embedding cache kept to what the index uses."""

from __future__ import annotations

import random
import sqlite3
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from rag.index.build import build_index
from rag.index.embedding_cache import CACHE_NAME
from rag.index.reader import open_index
from rag.search.searcher import Searcher
from rag.types import SearchFilters
from tests.conftest import store_settings, write_bytes

TOPICS = ["harbour lighthouse", "orchard apples", "glacier ice", "violin concert", "desert caravan", "rocket launch"]


def write_note(folder: Path, number: int, *, version: int = 0) -> Path:
    topic = TOPICS[number % len(TOPICS)]
    month = 1 + number % 12
    text = (
        f"date 2023-{month:02d}-01\nNote {number} about the {topic}. Version {version} of note {number} says the "
        f"{topic} matters to code{number}x{version}.\n"
    )
    return write_bytes(folder / f"sub{number % 3}" / f"note_{number:03d}.txt", text.encode())


def sources(searcher: Searcher, query: str, k: int = 50, **filters) -> list[str]:
    dates = {key: date.fromisoformat(value) for key, value in filters.items() if key.startswith("date_") and value}
    hits = searcher.search(query, k, SearchFilters(**(filters | dates)) if filters else None)
    return [h.citation.source.rsplit("/", 1)[-1] for h in hits]


@pytest.mark.parametrize("store", ["index", "milvus-lite"])
def test_deletes_across_segments_and_merges_keep_what_a_full_build_finds(
    tmp_path: Path, standin_settings, standin_embedder, store: str, request
) -> None:
    """On FAISS and Milvus Lite: the updated index answers as a full build on FAISS. (On a Milvus server, deletes
    are tested through the service: ``tests/api/test_vector_store_service.py``.)"""
    update = {"max_segments": 3, **store_settings(store, request, tmp_path)}
    settings = standin_settings.model_copy(update=update)
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    for n in range(30):
        write_note(corpus, n)
    build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    for round_number in range(1, 4):  # each update adds a segment and deletes from the older ones
        write_note(corpus, round_number, version=round_number)  # changed: its old passages are deleted
        (corpus / f"sub{(10 + round_number) % 3}" / f"note_{10 + round_number:03d}.txt").unlink()
        write_note(corpus, 100 + round_number)  # new
        report = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
        assert report.embedded == 2 and len(report.manifest.segments) <= 3
    manifest = report.manifest
    assert manifest.counts["documents"] == 30 and len(manifest.segments) == 3
    assert any("merge" in s.name for s in manifest.segments)  # the fourth segment made the policy merge two
    faiss_settings = settings.model_copy(update={"vector_store": "index"})
    full = build_index([corpus], faiss_settings, index_dir=tmp_path / "full", embedder=standin_embedder)
    with (
        Searcher(open_index(index_dir, settings), standin_embedder, settings) as updated,
        Searcher(open_index(tmp_path / "full", faiss_settings), standin_embedder, faiss_settings) as fresh,
    ):
        assert updated.index.store.count_chunks() == fresh.index.store.count_chunks() == full.chunks
        assert updated.index.vectors.status().vectors == full.chunks  # deleted passages left the store too
        assert [d.source for d in updated.index.store.documents()] == [d.source for d in fresh.index.store.documents()]
        for query in ("code1x1", "code1x0", "code3x3", "note 11", "glacier ice", "Version 2 of note 2"):
            for mode in ("bm25", "dense", "hybrid"):
                got = [(h.citation.source, h.citation.start, h.score) for h in updated.search(query, 10, mode=mode)]
                want = [(h.citation.source, h.citation.start, h.score) for h in fresh.search(query, 10, mode=mode)]
                if mode == "dense":  # vectors do not depend on the rest of the corpus
                    assert [g[:2] for g in got] == [w[:2] for w in want], query
                    assert [g[2] for g in got] == pytest.approx([w[2] for w in want], abs=1e-5), query
                elif query.startswith("code"):  # words of one note; elsewhere ties are ordered by chunk id
                    # deleted passages count in BM25's statistics until a merge drops them, as in Lucene
                    assert [g[:2] for g in got[:1]] == [w[:2] for w in want[:1]], (query, mode)
                    assert len(got) == len(want), (query, mode)
        assert not any("code1x0" in h.text for h in updated.search("code1x0", 50, mode="bm25"))
        assert "note_011.txt" not in sources(updated, "note 11")


def reference_sources(corpus: Path, source: str | None, date_from: str | None, date_to: str | None) -> set[str]:
    found = set()
    for path in corpus.rglob("*.txt"):
        date = path.read_text().split("\n", 1)[0].removeprefix("date ")
        relative = path.relative_to(corpus.parent).as_posix()
        if source is not None and not (fnmatchcase(relative, source) or fnmatchcase(str(path), source)):
            continue
        if (date_from and date < date_from) or (date_to and date > date_to):
            continue
        found.add(path.name)
    return found


@pytest.mark.parametrize(
    ("store", "hnsw_threshold"),
    [("index", 1), ("index", 1_000_000), ("milvus-lite", 1_000_000), ("milvus", 1_000_000)],
    ids=["hnsw", "exact", "milvus-lite", "milvus"],
)
def test_filters_match_a_brute_force_reference_on_exact_and_approximate_segments(
    tmp_path: Path, standin_settings, standin_embedder, store: str, hnsw_threshold: int, monkeypatch, request
) -> None:
    """Filters resolved in SQL, then searched on FAISS segments (exact or HNSW) or through Milvus."""
    update = {"hnsw_threshold": hnsw_threshold, "max_segments": 2, **store_settings(store, request, tmp_path)}
    settings = standin_settings.model_copy(update=update)
    corpus = tmp_path / "notes"
    for n in range(60):
        write_note(corpus, n)
    build_index([corpus], settings, index_dir=tmp_path / "idx", embedder=standin_embedder)
    write_note(corpus, 7, version=1)  # a second segment, and a deletion in the first
    build_index([corpus], settings, index_dir=tmp_path / "idx", embedder=standin_embedder)
    monkeypatch.chdir(tmp_path)  # source globs match paths relative to the working directory, or absolute
    rng = random.Random(hnsw_threshold)
    with Searcher(open_index(tmp_path / "idx", settings), standin_embedder, settings) as searcher:
        assert searcher.index.segments[0].vectors.approximate == (hnsw_threshold == 1)
        for _ in range(12):
            source = rng.choice([None, "notes/sub1/*", "*note_01?.txt", "notes/sub[!0]/*", f"{corpus}/sub2/*"])
            date_from = rng.choice([None, "2023-03-01", "2023-06-01"])
            date_to = rng.choice([None, "2023-08-01", "2023-12-01"])
            allowed = reference_sources(corpus, source, date_from, date_to)
            got = sources(searcher, "note about the", 100, source=source, date_from=date_from, date_to=date_to)
            assert set(got) == allowed, (source, date_from, date_to)  # every note says these words
            for mode in ("dense", "bm25"):
                hits = searcher.search("Version 1 of note 7", 5, SearchFilters(source=source), mode=mode)
                found = {h.citation.source.rsplit("/", 1)[-1] for h in hits}
                assert found <= reference_sources(corpus, source, None, None) and found


def test_an_update_reads_hnsw_graphs_only_to_merge_them(
    tmp_path: Path, standin_settings, standin_embedder, monkeypatch
) -> None:
    from rag.index import vectors

    reads: list[Path] = []
    read_graph = vectors._read_graph
    monkeypatch.setattr(vectors, "_read_graph", lambda path: reads.append(path) or read_graph(path))
    settings = standin_settings.model_copy(update={"hnsw_threshold": 1, "max_segments": 8})
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    for n in range(30):
        write_note(corpus, n)
    build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    write_note(corpus, 4, version=1)
    report = build_index([corpus], settings, index_dir=index_dir, embedder=standin_embedder)
    assert report.embedded == 1 and len(report.manifest.segments) == 2 and reads == []  # the sync never searched
    with (
        open_index(index_dir, settings, deferred=True) as deferred,
        Searcher(open_index(index_dir, settings), standin_embedder, settings) as eager,
    ):
        assert len(reads) == 2  # the eager index read both graphs; the deferred one none yet
        query = standin_embedder.embed_queries(["Version 1 of note 4"])
        found, expected = deferred.vectors.search(query, 5), eager.index.vectors.search(query, 5)
        assert found[1].tolist() == expected[1].tolist() and found[0].tolist() == expected[0].tolist()
        assert len(reads) == 4
    write_note(corpus, 5, version=1)
    merged = build_index([corpus], settings.model_copy(update={"max_segments": 1}), index_dir=index_dir,
                         embedder=standin_embedder)  # fmt: skip
    assert len(merged.manifest.segments) == 1 and len(reads) > 4  # a merge copies vectors out of graphs
    with Searcher(open_index(index_dir, settings), standin_embedder, settings) as searcher:
        assert "note_005.txt" in sources(searcher, "Version 1 of note 5", 1)


def test_a_reload_shares_unchanged_segments_and_the_cache_keeps_only_what_is_used(
    tmp_path: Path, standin_settings, standin_embedder
) -> None:
    corpus, index_dir = tmp_path / "notes", tmp_path / "idx"
    for n in range(20):
        write_note(corpus, n)
    build_index([corpus], standin_settings, index_dir=index_dir, embedder=standin_embedder)
    before = open_index(index_dir, standin_settings)
    write_note(corpus, 3, version=1)
    build_index([corpus], standin_settings, index_dir=index_dir, embedder=standin_embedder)
    after = open_index(index_dir, standin_settings, previous=before)
    assert after.segments[0].vectors is before.segments[0].vectors  # arrays and graph shared, deletions new
    assert after.segments[0].info.deleted_documents == 1 and before.segments[0].info.deleted_documents == 0
    before.close()
    assert after.store.document_text(after.store.documents()[3].doc_id)  # still readable after the old one closed
    after.close()

    def cached() -> int:
        with sqlite3.connect(index_dir / CACHE_NAME) as db:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    assert cached() == 20  # the old version of note 3 left with its passage
    (corpus / "sub1" / "note_004.txt").unlink()
    report = build_index([corpus], standin_settings, index_dir=index_dir, embedder=standin_embedder)
    assert report.removed == 1 and cached() == report.chunks == 19
