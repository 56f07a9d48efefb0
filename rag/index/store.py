"""The metadata store of one segment: its documents and chunks in SQLite, so citations and text never depend on
pickles or on the files still being on disk as they were.

A segment's store is written once, by the build that made the segment (or the merge that replaced it), and only
read after that: deletions are recorded beside it (``rag.index.segment``), never in it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexMismatchError
from rag.types import Chunk, Document, KnownFile, SentenceVectors


def select_in(db: sqlite3.Connection, query: str, values: Iterable[Any], size: int = 500) -> Iterator[tuple]:
    """Rows of ``query`` for distinct ``values``, whose ``{marks}`` stands for an ``IN (?, ...)`` list; values go
    in batches because SQLite caps the number of parameters of one statement."""
    distinct = sorted(set(values))
    for first in range(0, len(distinct), size):
        batch = distinct[first : first + size]
        yield from db.execute(query.format(marks=",".join("?" * len(batch))), batch)


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back for a search result: its span, lines and the document fields a citation needs."""

    chunk_id: int
    doc_id: str
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    date: str | None
    title: str | None
    section: str | None = None
    page: int | None = None
    page_label: str | None = None
    page_start: int = 0
    """Where the page starts in the document's text (PDF citations count from there)."""
    page_line: int = 1
    """The document line the page starts on."""


@dataclass(frozen=True)
class DocumentInfo:
    """A document's metadata without its text."""

    doc_id: str
    source: str
    encoding: str
    sha256: str
    date: str | None
    title: str | None
    n_chars: int
    n_chunks: int
    first_chunk: int = 0
    """Chunk ids of a document are consecutive: ``first_chunk`` to ``first_chunk + n_chunks - 1``."""


_DOCUMENT_INFO = "SELECT doc_id, source, encoding, sha256, date, title, n_chars, n_chunks, first_chunk FROM documents"

SCHEMA_VERSION = 2
"""1: the first segment store; 2: texts in their own table, covering indexes on (source, number) and (date, number)."""
SCHEMA = """
CREATE TABLE documents (
    doc_id      TEXT PRIMARY KEY,
    number      INTEGER NOT NULL UNIQUE,  -- order within the segment: the unit of whole-document BM25
    source      TEXT NOT NULL,
    encoding    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    file_size   INTEGER,
    mtime_ns    INTEGER,
    date        TEXT,
    title       TEXT,
    body_start  INTEGER NOT NULL,
    n_chars     INTEGER NOT NULL,         -- counted in Python: SQLite's length() stops at the first NUL
    format      TEXT NOT NULL,
    pages       TEXT,
    first_chunk INTEGER NOT NULL,
    n_chunks    INTEGER NOT NULL
);
CREATE INDEX documents_by_date ON documents(date, number);
CREATE INDEX documents_by_source ON documents(source, number);  -- a source GLOB scans this, not the table
CREATE TABLE texts (                      -- apart: scans of documents (filters, a sync's check) never read text
    doc_id TEXT PRIMARY KEY,
    text   TEXT NOT NULL
);
CREATE TABLE chunks (
    chunk_id   INTEGER PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    ordinal    INTEGER NOT NULL,
    start      INTEGER NOT NULL,
    end        INTEGER NOT NULL,
    line_start INTEGER NOT NULL,
    line_end   INTEGER NOT NULL,
    n_tokens   INTEGER NOT NULL,
    context    TEXT,
    text       TEXT NOT NULL,
    section    TEXT,
    page       INTEGER,
    page_label TEXT,
    page_start INTEGER NOT NULL DEFAULT 0,
    page_line  INTEGER NOT NULL DEFAULT 1,
    cache_key  TEXT
);
CREATE TABLE sentences (
    chunk_id INTEGER PRIMARY KEY,
    spans    TEXT NOT NULL,
    vectors  BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class DocumentRange:
    """Where a document's chunks lie in its segment: its number there and its consecutive chunk ids."""

    doc_id: str
    number: int
    first_chunk: int
    n_chunks: int


class SegmentStore:
    """Documents, chunks and sentence vectors of one segment, in one SQLite file."""

    def __init__(self, path: Path, *, read_only: bool = True) -> None:
        self.path = path
        if read_only:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version != SCHEMA_VERSION:
                self.db.close()
                raise IndexMismatchError(
                    f"{path} has schema version {version}, this version of rag reads {SCHEMA_VERSION}; rebuild the "
                    "index with rag index"
                )
        else:
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode = OFF")  # a new segment is thrown away whole if its build fails
            self.db.execute("PRAGMA synchronous = OFF")  # made durable by the fsync before the commit point
            self.db.executescript(SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def add(
        self,
        documents: Sequence[Document],
        chunks: Sequence[Chunk],
        chunk_ids: Sequence[int],
        cache_keys: Sequence[str | None] | None = None,
        first_number: int = 0,
    ) -> None:
        """Insert documents (numbered from ``first_number``) and their chunks (under the given consecutive ids, a
        document's chunks together) in one transaction."""
        ranges: dict[str, list[int]] = {}
        for chunk_id, chunk in zip(chunk_ids, chunks, strict=True):
            ranges.setdefault(chunk.doc_id, []).append(chunk_id)
        keys = cache_keys if cache_keys is not None else [None] * len(chunks)
        with self.db:
            self.db.executemany(
                "INSERT INTO documents (doc_id, number, source, encoding, sha256, file_size, mtime_ns, date, title, "
                "body_start, n_chars, format, pages, first_chunk, n_chunks) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        d.doc_id, first_number + n, d.source, d.encoding, d.sha256, d.file_size, d.mtime_ns, d.date,
                        d.title, d.body_start, len(d.text), d.format,
                        json.dumps([[p.start, p.end, p.number, p.label] for p in d.pages]) if d.pages else None,
                        min(ranges[d.doc_id]), len(ranges[d.doc_id]),
                    )
                    for n, d in enumerate(documents)
                ],
            )  # fmt: skip
            self.db.executemany("INSERT INTO texts VALUES (?, ?)", [(d.doc_id, d.text) for d in documents])
            self.db.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, start, end, line_start, line_end, n_tokens, context, "
                "text, section, page, page_label, page_start, page_line, cache_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cid, c.doc_id, c.ordinal, c.start, c.end, c.line_start, c.line_end, c.n_tokens, c.context,
                        c.text, c.section, c.page.number if c.page else None, c.page.label if c.page else None,
                        c.page.start if c.page else 0, c.page.line if c.page else 1, key,
                    )
                    for cid, c, key in zip(chunk_ids, chunks, keys, strict=True)
                ],
            )  # fmt: skip

    def add_sentences(self, chunk_ids: Sequence[int], sentences: Sequence[SentenceVectors]) -> None:
        """Store each chunk's sentence spans and vectors (float16: a highlight needs ranking, not precision)."""
        with self.db:
            self.db.executemany(
                "INSERT INTO sentences VALUES (?, ?, ?)",
                [
                    (cid, json.dumps(s.spans), np.asarray(s.vectors, dtype=np.float16).tobytes())
                    for cid, s in zip(chunk_ids, sentences, strict=True)
                ],
            )

    def sentences(self, chunk_ids: Iterable[int]) -> dict[int, SentenceVectors]:
        """Sentence spans and vectors of these chunks (chunks stored without them are absent)."""
        found: dict[int, SentenceVectors] = {}
        query = "SELECT chunk_id, spans, vectors FROM sentences WHERE chunk_id IN ({marks})"
        for chunk_id, spans, blob in select_in(self.db, query, (int(i) for i in chunk_ids)):
            pairs = [(int(a), int(b)) for a, b in json.loads(spans)]
            vectors = np.frombuffer(blob, dtype=np.float16).reshape(len(pairs), -1).astype(np.float32)
            found[chunk_id] = SentenceVectors(pairs, vectors)
        return found

    def chunks(self, chunk_ids: Iterable[int]) -> dict[int, StoredChunk]:
        """The chunks with these ids (missing ids are absent from the result)."""
        query = (
            "SELECT c.chunk_id, c.doc_id, d.source, c.start, c.end, c.line_start, c.line_end, c.text, d.date, "
            "d.title, c.section, c.page, c.page_label, c.page_start, c.page_line "
            "FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({marks})"
        )
        return {row[0]: StoredChunk(*row) for row in select_in(self.db, query, (int(i) for i in chunk_ids))}

    def documents(self) -> list[DocumentInfo]:
        """All documents of the segment, in number order."""
        return [DocumentInfo(*row) for row in self.db.execute(f"{_DOCUMENT_INFO} ORDER BY number")]

    def document(self, doc_id: str) -> DocumentInfo | None:
        row = self.db.execute(f"{_DOCUMENT_INFO} WHERE doc_id = ?", (doc_id,)).fetchone()
        return DocumentInfo(*row) if row else None

    def ranges(self, where: str = "1", params: Sequence[Any] = ()) -> list[DocumentRange]:
        """Chunk ranges of the documents matching an SQL condition on ``documents`` (indexed columns: doc_id,
        date), in number order."""
        rows = self.db.execute(
            f"SELECT doc_id, number, first_chunk, n_chunks FROM documents WHERE {where} ORDER BY number", params
        )
        return [DocumentRange(*row) for row in rows]

    def ranges_of(self, doc_ids: Iterable[str]) -> list[DocumentRange]:
        query = "SELECT doc_id, number, first_chunk, n_chunks FROM documents WHERE doc_id IN ({marks})"
        return [DocumentRange(*row) for row in select_in(self.db, query, doc_ids)]

    def known_files(self) -> list[tuple[str, int, KnownFile]]:
        """Every document's id, number and file hash, size and modification time (to tell changed files)."""
        rows = self.db.execute("SELECT doc_id, number, sha256, file_size, mtime_ns, source FROM documents")
        return [(row[0], row[1], KnownFile(*row[2:])) for row in rows]

    def cache_keys(self, first_chunk: int, last_chunk: int) -> list[str]:
        """Embedding-cache keys of the chunks in an id range."""
        rows = self.db.execute(
            "SELECT cache_key FROM chunks WHERE chunk_id BETWEEN ? AND ? AND cache_key IS NOT NULL",
            (first_chunk, last_chunk),
        )
        return [row[0] for row in rows]

    def chunk_doc_ids(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT chunk_id, doc_id FROM chunks"))

    def document_pages(self, doc_id: str) -> list[tuple[int, int, int, str | None]]:
        """``(start, end, number, label)`` of each page of an extracted PDF (empty for other documents)."""
        row = self.db.execute("SELECT pages FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return [tuple(p) for p in json.loads(row[0])] if row and row[0] else []

    def document_text(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT text FROM texts WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None
