"""A segment's store against what was put in it: documents and chunks added, chunks and sentences read back, the
documents listing, chunk ranges, copying documents into another store, and a read-only open. No model: the
records are made here. (Filters and deletions across segments: ``test_segments.py``.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatchError
from rag.index.store import DocumentInfo, SegmentStore, StoredChunk, select_in
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
    db = SegmentStore(tmp_path / "chunks.sqlite", read_only=False)
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


TOTAL_CHUNKS = sum(len(chunks_of(d)) for d in DOCUMENTS)


def all_chunks(store: SegmentStore) -> dict[int, StoredChunk]:
    return store.chunks(range(1, TOTAL_CHUNKS + 1))


def test_chunks_read_back_as_stored_with_their_document_fields(store: SegmentStore) -> None:
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


def test_missing_chunk_ids_are_absent_and_long_id_lists_are_batched(store: SegmentStore) -> None:
    total = TOTAL_CHUNKS
    assert set(store.chunks([2, 999, -5, 2])) == {2}
    assert set(store.chunks(np.arange(0, 2000))) == set(range(1, total + 1))  # more ids than one statement takes
    values = list(range(1234))
    rows = list(select_in(store.db, "SELECT value FROM json_each(json_array({marks}))", values, size=100))
    assert sorted(v for (v,) in rows) == values


def test_documents_are_listed_in_order_with_their_sizes_and_chunk_ranges(store: SegmentStore) -> None:
    listed = store.documents()
    assert [d.doc_id for d in listed] == [d.doc_id for d in DOCUMENTS]
    counts = {d.doc_id: len(chunks_of(d)) for d in DOCUMENTS}
    first = 1
    for info, doc in zip(listed, DOCUMENTS, strict=True):
        assert info == DocumentInfo(
            doc.doc_id,
            doc.source,
            doc.encoding,
            doc.sha256,
            doc.date,
            doc.title,
            len(doc.text),
            counts[doc.doc_id],
            first,
        )
        first += counts[doc.doc_id]
        assert store.document(doc.doc_id) == info
        assert store.document_text(doc.doc_id) == doc.text
    assert store.document("nope") is None and store.document_text("nope") is None
    assert {doc_id: known.sha256 for doc_id, _, known in store.known_files()} == {d.doc_id: d.sha256 for d in DOCUMENTS}
    ranges = {r.doc_id: (r.number, r.first_chunk, r.n_chunks) for r in store.ranges_of(["p", "a", "zz"])}
    assert ranges == {"a": (1, 1 + counts["b"], counts["a"]), "p": (3, TOTAL_CHUNKS - counts["p"] + 1, counts["p"])}


def test_pages_are_kept_for_extracted_documents_only(store: SegmentStore) -> None:
    assert store.document_pages("p") == [(0, 20, 1, "i"), (20, len(PDF_TEXT), 2, "ii")]
    assert store.document_pages("a") == [] and store.document_pages("nope") == []


def test_sentences_round_trip_at_half_precision(store: SegmentStore) -> None:
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


def test_copied_documents_keep_their_rows_under_shifted_ids_and_new_paths(store: SegmentStore, tmp_path) -> None:
    from rag.index.writer import _copy_rows

    store.add_sentences([1], [SentenceVectors([(0, 5)], np.ones((1, 4), dtype=np.float32))])
    target = SegmentStore(tmp_path / "target.sqlite", read_only=False)
    ranges = store.ranges_of(["b"])
    _copy_rows(target.db, store.path, ranges, {"b": 0}, {"b": 100}, {"b": "/moved/b.txt"})
    copied = target.chunks(range(101, 101 + ranges[0].n_chunks))
    original = store.chunks(range(1, 1 + ranges[0].n_chunks))
    assert [c.text for c in copied.values()] == [c.text for c in original.values()]
    assert {c.source for c in copied.values()} == {"/moved/b.txt"} and set(target.sentences([101])) == {101}
    assert target.document("b").first_chunk == 101
    target.close()


def test_a_read_only_store_reads_and_refuses_to_write(store: SegmentStore) -> None:
    reader = SegmentStore(store.path, read_only=True)
    try:
        assert reader.documents() == store.documents() and all_chunks(reader) == all_chunks(store)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.add_sentences([1], [SentenceVectors([(0, 1)], np.ones((1, 2), dtype=np.float32))])
    finally:
        reader.close()


def test_a_read_only_open_of_a_missing_store_fails_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        SegmentStore(tmp_path / "missing.sqlite", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()


def test_a_document_length_counts_characters_past_a_nul(tmp_path: Path) -> None:
    """SQLite's length() stops at the first NUL; the listing's n_chars must not."""
    text = "before\x00after the nul, twenty-nine"
    store = SegmentStore(tmp_path / "nul.sqlite", read_only=False)
    doc = document("n", "/corpus/n.txt", text)
    store.add([doc], chunks_of(doc), list(range(1, len(chunks_of(doc)) + 1)))
    assert store.document("n").n_chars == len(text) == 33
    assert store.document_text("n") == text
    store.close()


def test_a_store_of_an_older_schema_opened_read_only_asks_for_a_rebuild(store: SegmentStore) -> None:
    store.db.execute("PRAGMA user_version = 0")
    store.db.commit()
    with pytest.raises(IndexMismatchError, match=r"schema version 0.*rebuild the index"):
        SegmentStore(store.path, read_only=True)
