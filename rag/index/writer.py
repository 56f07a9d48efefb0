"""Writing one new segment as passages stream in: rows to its SQLite store, vectors appended to a file, terms
collected for BM25; at the end the postings are inverted, an HNSW graph is built when the segment is large, and
every file is synced and checksummed. Memory is one batch of passages plus the postings, never the corpus."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.index.arrays import joined
from rag.index.lexical import LexicalTokenizer, PostingsBuilder
from rag.index.manifest import file_info, fsync_path
from rag.index.segment import DOCUMENTS, PASSAGES, Segment, SegmentInfo
from rag.index.store import SegmentStore
from rag.index.vectors import VECTORS_NAME, HnswParameters, build_graph
from rag.types import Chunk, Document, SentenceVectors


@dataclass(frozen=True)
class SegmentLayout:
    """How segments are written: the BM25 tokenizer, whether BM25 reads passages with their titles and headings,
    and the size from which vectors get an HNSW graph."""

    tokenizer: LexicalTokenizer
    titles: bool
    hnsw_threshold: int
    hnsw: HnswParameters


class SegmentWriter:
    """Writes the segment ``name`` in ``index_dir``, its chunk ids counting up from ``first_chunk``."""

    def __init__(self, index_dir: Path, name: str, layout: SegmentLayout, first_chunk: int) -> None:
        self.index_dir = index_dir
        self.folder = index_dir / name
        self.folder.mkdir()
        self.layout = layout
        self.first_chunk = first_chunk
        self.next_chunk = first_chunk
        self.store = SegmentStore(self.folder / "store.sqlite", read_only=False)
        self._vectors = (self.folder / VECTORS_NAME).open("wb")
        self._passages = PostingsBuilder()
        self._documents = PostingsBuilder()
        self._chunk_documents: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []

    @property
    def chunks(self) -> int:
        return self.next_chunk - self.first_chunk

    @property
    def documents(self) -> int:
        return self._documents.size

    def add(
        self,
        documents: Sequence[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        sentences: Sequence[SentenceVectors],
        cache_keys: Sequence[str] | None = None,
    ) -> None:
        """Append documents with their chunks (a document's chunks together, in document order)."""
        ids = list(range(self.next_chunk, self.next_chunk + len(chunks)))
        number = {d.doc_id: self.documents + n for n, d in enumerate(documents)}
        self.store.add(documents, chunks, ids, cache_keys, first_number=self.documents)
        self.store.add_sentences(ids, sentences)
        self._vectors.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        titles = {d.doc_id: d.title for d in documents} if self.layout.titles else {}
        tokenize = self.layout.tokenizer
        contextual = self.layout.titles
        self._passages.add(tokenize(_with_context(titles.get(c.doc_id), c) if contextual else c.text) for c in chunks)
        self._documents.add(tokenize(_titled(titles.get(d.doc_id), d.text)) for d in documents)
        self._chunk_documents.append(np.asarray([number[c.doc_id] for c in chunks], dtype=np.int32))
        self._ids.append(np.asarray(ids, dtype=np.int64))
        self.next_chunk += len(chunks)

    def copy(
        self, segment: Segment, doc_ids: Sequence[str], *, keep_ids: bool, sources: dict[str, str] | None = None
    ) -> None:
        """Copy documents of an existing segment as they are, vectors and postings included, nothing re-embedded
        or re-tokenised: a merge (``keep_ids``: chunk ids stay) or documents whose folder moved (new ids, and new
        paths from ``sources``)."""
        ranges = sorted(segment.store.ranges_of(doc_ids), key=lambda r: r.first_chunk)
        if not ranges:
            return
        starts = np.searchsorted(segment.ids, [r.first_chunk for r in ranges])
        positions = np.concatenate([first + np.arange(r.n_chunks) for first, r in zip(starts, ranges, strict=True)])
        old_ids = np.asarray(segment.ids)[positions]
        new_ids = old_ids if keep_ids else np.arange(self.next_chunk, self.next_chunk + len(positions))
        if len(new_ids) and new_ids[0] < self.next_chunk:
            raise ValueError("segments must be copied in chunk id order")
        new_first = dict(zip((r.doc_id for r in ranges), new_ids[_offsets(ranges)], strict=True))
        shift = {r.doc_id: int(new_first[r.doc_id]) - r.first_chunk for r in ranges}
        numbers = {r.doc_id: self.documents + n for n, r in enumerate(ranges)}
        _copy_rows(self.store.db, segment.store.path, ranges, numbers, shift, sources or {})
        vectors = segment.vectors.vectors
        for first in range(0, len(positions), 50_000):
            self._vectors.write(np.ascontiguousarray(vectors[positions[first : first + 50_000]]).tobytes())
        document_numbers = np.asarray([r.number for r in ranges], dtype=np.int64)
        new_number = np.full(len(segment.documents), -1, dtype=np.int64)
        new_number[document_numbers] = np.arange(len(ranges)) + self.documents
        self._chunk_documents.append(new_number[np.asarray(segment.chunk_documents)[positions]].astype(np.int32))
        self._passages.extend(segment.passages, positions)
        self._documents.extend(segment.documents, document_numbers)
        self._ids.append(np.asarray(new_ids, dtype=np.int64))
        self.next_chunk = int(new_ids[-1]) + 1

    def finish(self) -> SegmentInfo:
        """Write the postings and ids, build the graph if the segment is large, sync and checksum every file."""
        self._vectors.close()
        self.store.close()
        folder = self.folder
        written = [folder / "store.sqlite"]
        written += self._passages.finish().save(folder, PASSAGES)
        written += self._documents.finish().save(folder, DOCUMENTS)
        ids = joined(self._ids, np.int64)
        np.save(folder / "chunk_ids.npy", ids)
        chunk_documents = joined(self._chunk_documents, np.int32)
        np.save(folder / "chunk_documents.npy", chunk_documents)
        written += [folder / "chunk_ids.npy", folder / "chunk_documents.npy"]
        if len(ids) >= self.layout.hnsw_threshold:
            written.append(build_graph(folder, len(ids), self.layout.hnsw))
        else:
            written.append(folder / VECTORS_NAME)
        files = [file_info(self.index_dir, path) for path in sorted(written)]
        fsync_path(folder)
        return SegmentInfo(
            name=folder.name, chunks=len(ids), documents=self.documents,
            first_chunk=int(ids[0]) if len(ids) else self.first_chunk,
            last_chunk=int(ids[-1]) if len(ids) else self.first_chunk - 1, files=files,
        )  # fmt: skip

    def abandon(self) -> None:
        """Remove the unfinished segment (a failed build)."""
        try:
            self._vectors.close()
            self.store.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _offsets(ranges: Sequence) -> np.ndarray:
    """Where each document's chunks start among the copied chunks."""
    return np.cumsum([0, *(r.n_chunks for r in ranges[:-1])])


def _titled(title: str | None, text: str) -> str:
    return f"{title}\n{text}" if title else text


def _with_context(title: str | None, chunk: Chunk) -> str:
    """A passage as BM25 reads it (with titles on): the document's title and the context the model sees with the
    passage (its heading path, a cut table's header row), then its text. A question naming a section or a table's
    column then matches the passages under it, as it does in the dense search."""
    context, title = chunk.context or "", (title or "").strip()  # the chunker embeds the title stripped
    if title and context != title and not context.startswith(f"{title}\n"):  # no title line: titles not embedded
        context = f"{title}\n{context}" if context else title
    return f"{context}\n{chunk.text}" if context else chunk.text


def _copy_rows(
    db: sqlite3.Connection,
    source_path: Path,
    ranges: Sequence,
    numbers: dict[str, int],
    shift: dict[str, int],
    sources: dict[str, str],
) -> None:
    """Documents, chunks and sentences of ``ranges`` copied in SQL from another segment's store, renumbered and
    with chunk ids shifted per document."""
    db.execute("ATTACH DATABASE ? AS source", (f"file:{source_path}?mode=ro",))
    try:
        with db:
            db.execute("CREATE TEMP TABLE copied (doc_id TEXT PRIMARY KEY, number INTEGER, shift INTEGER, path TEXT)")
            db.executemany(
                "INSERT INTO copied VALUES (?, ?, ?, ?)",
                [(r.doc_id, numbers[r.doc_id], shift[r.doc_id], sources.get(r.doc_id)) for r in ranges],
            )
            db.execute(
                "INSERT INTO documents SELECT d.doc_id, k.number, coalesce(k.path, d.source), d.encoding, d.sha256, "
                "d.file_size, d.mtime_ns, d.date, d.title, d.body_start, d.n_chars, d.format, d.pages, "
                "d.first_chunk + k.shift, d.n_chunks FROM source.documents d JOIN copied k USING (doc_id) "
                "ORDER BY k.number"
            )
            db.execute("INSERT INTO texts SELECT t.doc_id, t.text FROM source.texts t JOIN copied k USING (doc_id)")
            db.execute(
                "INSERT INTO chunks SELECT c.chunk_id + k.shift, c.doc_id, c.ordinal, c.start, c.end, c.line_start, "
                "c.line_end, c.n_tokens, c.context, c.text, c.section, c.page, c.page_label, c.page_start, "
                "c.page_line, c.cache_key FROM source.chunks c JOIN copied k USING (doc_id) ORDER BY 1"
            )
            db.execute(
                "INSERT INTO sentences SELECT s.chunk_id + k.shift, s.spans, s.vectors FROM source.sentences s "
                "JOIN source.chunks c USING (chunk_id) JOIN copied k ON k.doc_id = c.doc_id ORDER BY 1"
            )
            db.execute("DROP TABLE copied")
    finally:
        db.execute("DETACH DATABASE source")
