"""The metadata store against what was put in it: documents and chunks added and removed, chunks and sentences
read back, the documents listing, filters by document and date (against a brute-force reference), the passages
BM25 indexes, and a read-only open. No model: the records are made here."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatchError
from rag.index.store import MIGRATIONS, DocumentInfo, MetadataStore, StoredChunk, select_in
from rag.types import Chunk, Document, Page, SentenceVectors


def document(doc_id: str, source: str, text: str, **fields) -> Document:
    return Document(doc_id=doc_id, source=source, text=text, encoding="utf-8", sha256=f"sha-{doc_id}", **fields)


def chunks_of(doc: Document, size: int = 10) -> list[Chunk]:
    """The document's text cut every ``size`` characters, with the lines each piece covers."""
    pieces = []
    for ordinal, start in enumerate(range(0, len(doc.text), size)):
        end = min(start + size, len(doc.text))
        line_start, line_end = doc.text.count("\n", 0, start) + 1, doc.text.count("\n", 0, end) + 1
        pieces.append(Chunk(doc.doc_id, ordinal, start, end, doc.text[start:end], line_start, line_end, end - start))
    return pieces


PDF_TEXT = "First page text ok.\nSecond page text\nhere."
PDF_PAGES = (Page(0, 20, 1, "i"), Page(20, len(PDF_TEXT), 2, "ii", line=2))
DOCUMENTS = [
    document("b", "/corpus/b.txt", "Bravo one.\nBravo two.\nBravo three.", date="2023-11-09", title="Bravo"),
    document("a", "/corpus/a.txt", "Alpha text that is long enough for three chunks.", date="2023-11-04"),
    document("c", "/corpus/c.md", "Charlie has no date.", title="Charlie"),
    document("p", "/corpus/p.pdf", PDF_TEXT, date="2024-01-01", format="pdf", pages=PDF_PAGES),
]


@pytest.fixture
def store(tmp_path: Path):
    """A store holding ``DOCUMENTS``: chunk ids count from 1 in document order; the PDF's chunks lie on pages."""
    db = MetadataStore(tmp_path / "chunks.sqlite")
    chunks = []
    for doc in DOCUMENTS:
        for chunk in chunks_of(doc):
            if doc.pages:
                page = next(p for p in doc.pages if p.start <= chunk.start < p.end)
                chunk = Chunk(**{**chunk.__dict__, "page": page, "section": "Report"})
            chunks.append(chunk)
    db.add(DOCUMENTS, chunks, list(range(1, len(chunks) + 1)))
    yield db
    db.close()


def all_chunks(store: MetadataStore) -> dict[int, StoredChunk]:
    return store.chunks(range(1, store.max_chunk_id() + 1))


def test_a_new_store_runs_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    MetadataStore(path).close()
    again = MetadataStore(path)  # opening again migrates nothing
    assert again.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert (again.count_documents(), again.count_chunks(), again.max_chunk_id()) == (0, 0, 0)
    assert again.documents() == [] and again.chunks([1, 2]) == {} and again.lexical_passages(True) == ([], [])
    again.close()


def test_chunks_read_back_as_stored_with_their_document_fields(store: MetadataStore) -> None:
    by_doc = {doc.doc_id: doc for doc in DOCUMENTS}
    stored = all_chunks(store)
    expected = [(doc, chunk) for doc in DOCUMENTS for chunk in chunks_of(doc)]
    assert sorted(stored) == list(range(1, len(expected) + 1))
    for chunk_id, (doc, chunk) in enumerate(expected, start=1):
        got = stored[chunk_id]
        assert (got.chunk_id, got.doc_id, got.source) == (chunk_id, doc.doc_id, doc.source)
        assert (got.start, got.end, got.line_start, got.line_end) == (
            chunk.start,
            chunk.end,
            chunk.line_start,
            chunk.line_end,
        )
        assert got.text == by_doc[got.doc_id].text[got.start : got.end]
        assert (got.date, got.title) == (doc.date, doc.title)
    pdf = [c for c in stored.values() if c.doc_id == "p"]
    for chunk in pdf:
        page = next(p for p in PDF_PAGES if p.start <= chunk.start < p.end)
        assert (chunk.page, chunk.page_label, chunk.page_start, chunk.page_line) == (
            page.number,
            page.label,
            page.start,
            page.line,
        )
        assert chunk.section == "Report"
    plain = stored[1]
    assert (plain.page, plain.page_label, plain.page_start, plain.page_line, plain.section) == (None, None, 0, 1, None)


def test_missing_chunk_ids_are_absent_and_long_id_lists_are_batched(store: MetadataStore) -> None:
    total = store.max_chunk_id()
    assert set(store.chunks([2, 999, -5, 2])) == {2}
    assert set(store.chunks(np.arange(0, 2000))) == set(range(1, total + 1))  # more ids than one statement takes
    values = list(range(1234))
    rows = list(select_in(store.db, "SELECT value FROM json_each(json_array({marks}))", values, size=100))
    assert sorted(v for (v,) in rows) == values


def test_documents_are_listed_by_source_with_their_sizes(store: MetadataStore) -> None:
    listed = store.documents()
    assert [d.source for d in listed] == sorted(d.source for d in DOCUMENTS)
    counts = {d.doc_id: len(chunks_of(d)) for d in DOCUMENTS}
    for info in listed:
        doc = next(d for d in DOCUMENTS if d.doc_id == info.doc_id)
        assert info == DocumentInfo(
            doc.doc_id, doc.source, doc.encoding, doc.sha256, doc.date, doc.title, len(doc.text), counts[doc.doc_id]
        )
        assert store.document(doc.doc_id) == info
        assert store.document_text(doc.doc_id) == doc.text
    assert store.document("nope") is None and store.document_text("nope") is None
    assert store.document_hashes() == {d.doc_id: d.sha256 for d in DOCUMENTS}
    assert store.count_documents() == 4 and store.count_chunks() == sum(counts.values())


def test_pages_are_kept_for_extracted_documents_only(store: MetadataStore) -> None:
    assert store.document_pages("p") == [(0, 20, 1, "i"), (20, len(PDF_TEXT), 2, "ii")]
    assert store.document_pages("a") == [] and store.document_pages("nope") == []


def reference_chunk_ids(store: MetadataStore, doc_ids, date_from, date_to) -> list[int]:
    dates = {d.doc_id: d.date for d in DOCUMENTS}
    return sorted(
        chunk.chunk_id
        for chunk in all_chunks(store).values()
        if (doc_ids is None or chunk.doc_id in doc_ids)
        and (date_from is None or (dates[chunk.doc_id] is not None and dates[chunk.doc_id] >= date_from))
        and (date_to is None or (dates[chunk.doc_id] is not None and dates[chunk.doc_id] <= date_to))
    )


@pytest.mark.parametrize("seed", range(12))
def test_chunk_ids_by_document_and_date_match_a_brute_force_reference(store: MetadataStore, seed: int) -> None:
    rng = random.Random(seed)
    doc_ids = None if seed % 3 == 0 else set(rng.sample(["a", "b", "c", "p", "unknown"], rng.randint(0, 3)))
    bounds = [None, "2023-11-04", "2023-11-05", "2023-11-09", "2024-01-01", "2030-01-01"]
    date_from, date_to = rng.choice(bounds), rng.choice(bounds)
    got = store.chunk_ids_where(doc_ids, date_from, date_to)
    assert sorted(got) == reference_chunk_ids(store, doc_ids, date_from, date_to)


def test_a_date_bound_never_matches_an_undated_document(store: MetadataStore) -> None:
    undated = {c.chunk_id for c in all_chunks(store).values() if c.doc_id == "c"}
    assert undated <= set(store.chunk_ids_where(None, None, None))
    assert not undated & set(store.chunk_ids_where(None, "1900-01-01", None))
    assert not undated & set(store.chunk_ids_where(None, None, "2999-12-31"))


def test_sentences_round_trip_at_half_precision(store: MetadataStore) -> None:
    rng = np.random.default_rng(0)
    vectors = {1: rng.standard_normal((2, 8)).astype(np.float32), 3: rng.standard_normal((1, 8)).astype(np.float32)}
    spans = {1: [(0, 4), (5, 10)], 3: [(20, 30)]}
    store.add_sentences([1, 3], [SentenceVectors(spans[i], vectors[i]) for i in (1, 3)])
    found = store.sentences([1, 2, 3, 99])
    assert set(found) == {1, 3}  # chunk 2 has none stored
    for chunk_id, sentences in found.items():
        assert sentences.spans == spans[chunk_id]
        assert sentences.vectors.dtype == np.float32
        np.testing.assert_array_equal(sentences.vectors, vectors[chunk_id].astype(np.float16).astype(np.float32))


def test_removing_documents_removes_their_chunks_and_sentences(store: MetadataStore) -> None:
    before = all_chunks(store)
    of_b = sorted(c.chunk_id for c in before.values() if c.doc_id == "b")
    store.add_sentences(of_b[:1], [SentenceVectors([(0, 5)], np.ones((1, 4), dtype=np.float32))])
    removed = store.remove_documents(["b", "not-there"])
    assert sorted(removed) == of_b
    assert set(all_chunks(store)) == set(before) - set(of_b)
    assert store.sentences(of_b) == {} and store.document("b") is None
    assert [d.doc_id for d in store.documents()] == ["a", "c", "p"]
    assert store.remove_documents([]) == []
    assert store.chunk_doc_ids() == {c.chunk_id: c.doc_id for c in before.values() if c.doc_id != "b"}
    assert store.max_chunk_id() == max(before)  # the last document's chunks are still there


def test_lexical_passages_are_in_chunk_id_order_with_titles_when_wanted(store: MetadataStore) -> None:
    stored = all_chunks(store)
    ids, texts = store.lexical_passages(with_titles=False)
    assert ids == sorted(stored) and texts == [stored[i].text for i in ids]
    ids, titled = store.lexical_passages(with_titles=True)
    assert ids == sorted(stored)
    assert titled == [f"{stored[i].title}\n{stored[i].text}" if stored[i].title else stored[i].text for i in ids]
    assert titled[0] == "Bravo\nBravo one." and titled[-1] == stored[ids[-1]].text  # the PDF has no title


def test_a_read_only_store_reads_and_refuses_to_write(store: MetadataStore) -> None:
    reader = MetadataStore(store.path, read_only=True)
    try:
        assert reader.documents() == store.documents() and all_chunks(reader) == all_chunks(store)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.remove_documents(["a"])
        assert reader.count_documents() == 4
    finally:
        reader.close()


def test_a_read_only_open_of_a_missing_store_fails_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        MetadataStore(tmp_path / "missing.sqlite", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()


def test_a_document_length_counts_characters_past_a_nul(tmp_path: Path) -> None:
    """SQLite's length() stops at the first NUL; the listing's n_chars must not."""
    text = "before\x00after the nul, twenty-nine"
    store = MetadataStore(tmp_path / "nul.sqlite")
    doc = document("n", "/corpus/n.txt", text)
    store.add([doc], chunks_of(doc), list(range(len(chunks_of(doc)))))
    assert store.document("n").n_chars == len(text) == 33
    assert store.document_text("n") == text
    store.close()


def test_lexical_documents_number_each_document_with_passages_and_map_its_chunks(store: MetadataStore) -> None:
    stored = all_chunks(store)
    texts, chunk_documents = store.lexical_documents(with_titles=True)
    assert sorted(chunk_documents) == sorted(stored)
    for chunk_id, number in chunk_documents.items():
        chunk = stored[chunk_id]
        assert chunk.text in texts[number]
        if chunk.title:
            assert texts[number].startswith(f"{chunk.title}\n")
    assert len(texts) == len({c.doc_id for c in stored.values()})


def test_a_store_of_an_older_schema_opened_read_only_asks_for_a_rebuild(store: MetadataStore) -> None:
    store.db.execute("PRAGMA user_version = 3")
    store.db.commit()
    with pytest.raises(IndexMismatchError, match=r"schema version 3.*rebuild the index"):
        MetadataStore(store.path, read_only=True)
