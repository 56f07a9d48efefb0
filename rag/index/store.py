"""The metadata store: documents and chunks in SQLite, so citations and text never depend on pickles or on the
files still being on disk as they were.

The schema is built by ordered migration functions recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexMismatchError
from rag.types import Chunk, Document, SentenceVectors


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


_DOCUMENT_INFO = (
    "SELECT d.doc_id, d.source, d.encoding, d.sha256, d.date, d.title, d.n_chars, "
    "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id) FROM documents d"
)


def _migration_1(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE documents (
            doc_id   TEXT PRIMARY KEY,
            source   TEXT NOT NULL,
            encoding TEXT NOT NULL,
            sha256   TEXT NOT NULL,
            date     TEXT,
            title    TEXT,
            body_start INTEGER NOT NULL,
            text     TEXT NOT NULL
        );
        CREATE TABLE chunks (
            chunk_id   INTEGER PRIMARY KEY,
            doc_id     TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            ordinal    INTEGER NOT NULL,
            start      INTEGER NOT NULL,
            end        INTEGER NOT NULL,
            line_start INTEGER NOT NULL,
            line_end   INTEGER NOT NULL,
            n_tokens   INTEGER NOT NULL,
            context    TEXT,
            text       TEXT NOT NULL
        );
        CREATE INDEX chunks_by_doc ON chunks(doc_id, ordinal);
        """
    )


def _migration_2(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE sentences (
            chunk_id INTEGER PRIMARY KEY REFERENCES chunks(chunk_id) ON DELETE CASCADE,
            spans    TEXT NOT NULL,
            vectors  BLOB NOT NULL
        );
        """
    )


def _migration_3(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        ALTER TABLE documents ADD COLUMN format TEXT NOT NULL DEFAULT 'text';
        ALTER TABLE documents ADD COLUMN pages TEXT;
        ALTER TABLE chunks ADD COLUMN section TEXT;
        ALTER TABLE chunks ADD COLUMN page INTEGER;
        ALTER TABLE chunks ADD COLUMN page_label TEXT;
        ALTER TABLE chunks ADD COLUMN page_start INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE chunks ADD COLUMN page_line INTEGER NOT NULL DEFAULT 1;
        """
    )


def _migration_4(db: sqlite3.Connection) -> None:
    """A document's length in characters, counted in Python: SQLite's ``length()`` stops at the first NUL."""
    db.executescript("ALTER TABLE documents ADD COLUMN n_chars INTEGER; UPDATE documents SET n_chars = length(text);")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2, _migration_3, _migration_4]


class MetadataStore:
    """Documents and chunks of one index, in one SQLite file."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        if read_only:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version < len(MIGRATIONS):  # a read-only store cannot be migrated: say so instead of failing later
                self.db.close()
                raise IndexMismatchError(
                    f"{path} has schema version {version}, this version of rag reads {len(MIGRATIONS)}; rebuild the "
                    "index with rag index"
                )
        else:
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db:
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    def add(self, documents: Sequence[Document], chunks: Sequence[Chunk], chunk_ids: Sequence[int]) -> None:
        """Insert documents and their chunks (under the given ids) in one transaction."""
        with self.db:
            self.db.executemany(
                "INSERT INTO documents (doc_id, source, encoding, sha256, date, title, body_start, text, n_chars, "
                "format, pages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        d.doc_id, d.source, d.encoding, d.sha256, d.date, d.title, d.body_start, d.text, len(d.text),
                        d.format,
                        json.dumps([[p.start, p.end, p.number, p.label] for p in d.pages]) if d.pages else None,
                    )
                    for d in documents
                ],
            )  # fmt: skip
            self.db.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, start, end, line_start, line_end, n_tokens, context, "
                "text, section, page, page_label, page_start, page_line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cid, c.doc_id, c.ordinal, c.start, c.end, c.line_start, c.line_end, c.n_tokens, c.context,
                        c.text, c.section, c.page.number if c.page else None, c.page.label if c.page else None,
                        c.page.start if c.page else 0,
                        c.page.line if c.page else 1,
                    )
                    for cid, c in zip(chunk_ids, chunks, strict=True)
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
        """All documents, ordered by source."""
        rows = self.db.execute(f"{_DOCUMENT_INFO} ORDER BY d.source, d.doc_id")
        return [DocumentInfo(*row) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document's metadata, or None if it is not indexed."""
        row = self.db.execute(f"{_DOCUMENT_INFO} WHERE d.doc_id = ?", (doc_id,)).fetchone()
        return DocumentInfo(*row) if row else None

    def chunk_ids_where(self, doc_ids: Iterable[str] | None, date_from: str | None, date_to: str | None) -> list[int]:
        """Ids of the chunks of the given documents (all if None) whose document date lies in the range.

        A document without a date never matches a date bound."""
        clauses, params = [], []
        if date_from is not None:
            clauses.append("d.date >= ?")
            params.append(date_from)
        if date_to is not None:
            clauses.append("d.date <= ?")
            params.append(date_to)
        where = " AND ".join(clauses) or "1"
        rows = self.db.execute(
            f"SELECT c.chunk_id, c.doc_id FROM chunks c JOIN documents d USING (doc_id) WHERE {where}", params
        )
        wanted = None if doc_ids is None else set(doc_ids)
        return [cid for cid, doc_id in rows if wanted is None or doc_id in wanted]

    def document_sources(self) -> dict[str, str]:
        """Every document id with the path it was last read from."""
        return dict(self.db.execute("SELECT doc_id, source FROM documents"))

    def move_documents(self, sources: Mapping[str, str]) -> None:
        """Record new paths for documents whose folder moved (their ids, text and passages stay)."""
        with self.db:
            self.db.executemany(
                "UPDATE documents SET source = ? WHERE doc_id = ?", [(s, d) for d, s in sources.items()]
            )

    def document_hashes(self) -> dict[str, str]:
        """Every document id with the SHA-256 of its source bytes (to tell changed files from unchanged ones)."""
        return dict(self.db.execute("SELECT doc_id, sha256 FROM documents"))

    def remove_documents(self, doc_ids: Iterable[str]) -> list[int]:
        """Delete documents with their chunks and sentence vectors; return the ids of the chunks removed."""
        ids = list(doc_ids)
        with self.db:
            removed = [r[0] for r in select_in(self.db, "SELECT chunk_id FROM chunks WHERE doc_id IN ({marks})", ids)]
            list(select_in(self.db, "DELETE FROM documents WHERE doc_id IN ({marks})", ids))
        return removed

    def max_chunk_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(chunk_id), 0) FROM chunks").fetchone()[0])

    def lexical_passages(self, with_titles: bool) -> tuple[list[int], list[str]]:
        """Chunk ids and the text BM25 indexes for each: the passage, after its document's title if wanted."""
        rows = self.db.execute(
            "SELECT c.chunk_id, d.title, c.text FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.chunk_id"
        ).fetchall()
        texts = [f"{title}\n{text}" if with_titles and title else text for _, title, text in rows]
        return [r[0] for r in rows], texts

    def lexical_documents(self, with_titles: bool) -> tuple[list[str], dict[int, int]]:
        """The text document-level BM25 indexes for each document that has passages (its title first if wanted),
        numbered in order, and each chunk id's document number."""
        numbers: dict[str, int] = {}
        texts: list[str] = []
        for doc_id, title, text in self.db.execute(
            "SELECT doc_id, title, text FROM documents WHERE doc_id IN (SELECT doc_id FROM chunks) ORDER BY doc_id"
        ):
            numbers[doc_id] = len(texts)
            texts.append(f"{title}\n{text}" if with_titles and title else text)
        chunk_documents = {chunk_id: numbers[doc_id] for chunk_id, doc_id in self.db.execute(
            "SELECT chunk_id, doc_id FROM chunks"
        )}  # fmt: skip
        return texts, chunk_documents

    def chunk_doc_ids(self) -> dict[int, str]:
        """Every chunk id with the id of its document (for ranking documents by their chunks)."""
        return dict(self.db.execute("SELECT chunk_id, doc_id FROM chunks"))

    def document_pages(self, doc_id: str) -> list[tuple[int, int, int, str | None]]:
        """``(start, end, number, label)`` of each page of an extracted PDF (empty for other documents)."""
        row = self.db.execute("SELECT pages FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return [tuple(p) for p in json.loads(row[0])] if row and row[0] else []

    def document_text(self, doc_id: str) -> str | None:
        """The full decoded text of a document, or None if it is not indexed."""
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def count_chunks(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def count_documents(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM documents").fetchone()[0])
