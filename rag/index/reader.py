"""Opening an index for reading: the commit point checked against the settings, every file against its size, then
its segments opened (arrays memory-mapped) and seen as one index.

Segments are numbered one after the other into one space of positions (ascending chunk ids, since ids only grow
and merges join neighbours), so a search computes each BM25 score once over all passages and a filter is one
boolean mask over them. Checksums are not read on open (at a million passages that is minutes of reading):
``verify_index`` (``rag check``) compares them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError, IndexMismatchError
from rag.index.arrays import joined
from rag.index.dense import StoreLocation, VectorSearch, open_vector_search
from rag.index.dense.segments import SegmentSearch
from rag.index.lexical import BM25, top_units
from rag.index.manifest import Manifest, file_sha256, read_manifest
from rag.index.segment import FileInfo, Segment
from rag.index.store import DocumentInfo, SegmentStore, StoredChunk
from rag.index.vectors import HnswParameters
from rag.settings import Settings
from rag.types import KnownFile, SentenceVectors


@dataclass(frozen=True)
class Selection:
    """The passages a search may return, as a boolean mask over the index's positions (filters, live passages)."""

    mask: np.ndarray

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.mask))


class Index:
    """An opened index: its commit point and segments, seen through four views: ``vectors`` (dense search),
    ``lexical`` (BM25 over passages), ``documents`` (BM25 over whole documents) and ``store`` (text, citations,
    filters). The model is loaded separately."""

    def __init__(self, directory: Path, manifest: Manifest, segments: list[Segment], settings: Settings) -> None:
        self.directory = directory
        self.manifest = manifest
        self.segments = segments
        self.offsets = np.cumsum([0, *(len(s) for s in segments)])
        self.document_offsets = np.cumsum([0, *(len(s.documents) for s in segments)])
        self.ids = joined([np.asarray(s.ids) for s in segments], np.int64)
        lives = [s.live() for s in segments]
        self.live = joined(lives, bool)
        self.live_count = int(np.count_nonzero(self.live))
        numbered = zip(segments, self.document_offsets, strict=False)  # offsets have one more entry, the total
        self.chunk_documents = joined(
            [np.asarray(s.chunk_documents, dtype=np.int64) + o for s, o in numbered], np.int64
        )
        self.document_live = joined([s.live_documents(live) for s, live in zip(segments, lives, strict=True)], bool)
        tokenizer = manifest.lexical.tokenizer()
        k1, b = manifest.lexical.k1, manifest.lexical.b
        self.settings = settings
        self.vectors: VectorSearch = SegmentSearch(self)
        """Dense search: over the segments, or the Milvus collection ``open_index`` puts here."""
        self.lexical = PassageSearch(self, BM25([s.passages for s in segments], tokenizer, k1=k1, b=b))
        self.documents = DocumentSearch(self, BM25([s.documents for s in segments], tokenizer, k1=k1, b=b))
        self.store = IndexStore(self)
        self._closed = False

    def close(self) -> None:
        """Let go of the segments (a segment another open index shares stays open for it); using a closed index
        raises ``sqlite3.ProgrammingError``."""
        if not self._closed:
            self._closed = True
            self.vectors.close()
            for segment in self.segments:
                segment.release()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def positions(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Positions of indexed chunk ids."""
        return np.searchsorted(self.ids, np.asarray(chunk_ids, dtype=np.int64))

    def segment_of(self, chunk_ids: Iterable[int]) -> dict[int, list[int]]:
        """Chunk ids grouped by the number of the segment whose id range holds them."""
        firsts = np.asarray([s.info.first_chunk for s in self.segments], dtype=np.int64)
        grouped: dict[int, list[int]] = {}
        for chunk_id in chunk_ids:
            grouped.setdefault(int(np.searchsorted(firsts, chunk_id, side="right")) - 1, []).append(int(chunk_id))
        return {n: ids for n, ids in grouped.items() if n >= 0}

    def searchable(self, allowed: Selection | None) -> np.ndarray:
        """Live positions, within ``allowed`` when given."""
        return self.live if allowed is None else self.live & allowed.mask

    @cached_property
    def live_weights(self) -> np.ndarray:
        """``live`` as BM25's weight mask (1 live, 0 deleted), made once: at a million passages each conversion
        costs a millisecond a question."""
        return self.live.astype(np.float32)

    @cached_property
    def live_document_weights(self) -> np.ndarray:
        return self.document_live.astype(np.float32)

    def segment_masks(self, allowed: Selection | None) -> list[np.ndarray | None]:
        """Per segment, the positions a search may return (None where every position may)."""
        searchable = self.searchable(allowed)
        masks: list[np.ndarray | None] = []
        for n, segment in enumerate(self.segments):
            everything = allowed is None and segment.info.deleted_chunks == 0
            masks.append(None if everything else searchable[self.offsets[n] : self.offsets[n + 1]])
        return masks


class PassageSearch:
    """BM25 over every live passage, with the index's collection statistics."""

    def __init__(self, index: Index, bm25: BM25) -> None:
        self.index = index
        self.bm25 = bm25

    def __len__(self) -> int:
        return len(self.bm25)

    def search(self, queries: list[str], k: int, allowed: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` passages per query, best first, ties by the smaller id; passages sharing no term with the
        query are not returned (``-1`` pads ids, ``0`` pads scores)."""
        mask = self.index.live_weights if allowed is None else self.index.searchable(allowed).astype(np.float32)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, query in enumerate(queries):
            values, chosen = top_units(self.bm25.scores(query, mask), k, self.index.ids)
            scores[row, : len(chosen)], ids[row, : len(chosen)] = values, chosen
        return scores, ids


class DocumentSearch:
    """BM25 over whole documents, read per passage by hybrid fusion: documents are numbered one segment after
    the other, and each passage maps to its document's number."""

    def __init__(self, index: Index, bm25: BM25) -> None:
        self.index = index
        self.bm25 = bm25

    def __len__(self) -> int:
        return int(self.index.document_live.sum())

    def documents_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The document number of each chunk id (all must be indexed)."""
        return self.index.chunk_documents[self.index.positions(chunk_ids)]

    def mask(self, allowed: Selection | None) -> np.ndarray:
        """1 for the live documents (holding one of the ``allowed`` passages when given), 0 for the others; made
        once for a batch of questions under the same filters."""
        if allowed is None:
            return self.index.live_document_weights
        mask = np.zeros(len(self.bm25), dtype=np.float32)
        mask[self.index.chunk_documents[self.index.searchable(allowed)]] = 1.0
        return mask

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """The query's BM25 score of every document, by number; documents ``mask`` leaves out score 0."""
        return self.bm25.scores(query, self.mask(None) if mask is None else mask)


class IndexStore:
    """The segments' stores read as one: deleted documents and chunks are invisible."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def chunks(self, chunk_ids: Iterable[int]) -> dict[int, StoredChunk]:
        """The chunks with these ids (missing ids are absent from the result)."""
        return self._by_segment(chunk_ids, SegmentStore.chunks)

    def sentences(self, chunk_ids: Iterable[int]) -> dict[int, SentenceVectors]:
        return self._by_segment(chunk_ids, SegmentStore.sentences)

    def _by_segment(self, chunk_ids: Iterable[int], read: Callable[[SegmentStore, list[int]], dict]) -> dict:
        """``read`` from each segment's store for the ids in its range, merged."""
        found: dict = {}
        for n, ids in self.index.segment_of(chunk_ids).items():
            found.update(read(self.index.segments[n].store, ids))
        return found

    def _is_live(self, first_chunk: int) -> bool:
        position = int(self.index.positions(np.asarray([first_chunk]))[0])
        return position < len(self.index.ids) and self.index.ids[position] == first_chunk and self.index.live[position]

    def documents(self) -> list[DocumentInfo]:
        """All live documents, ordered by source."""
        found = []
        for n, segment in enumerate(self.index.segments):
            live = self._live_documents(n)
            found.extend(d for number, d in enumerate(segment.store.documents()) if live[number])
        return sorted(found, key=lambda d: (d.source, d.doc_id))

    def _live_documents(self, segment: int) -> np.ndarray:
        offsets = self.index.document_offsets
        return self.index.document_live[offsets[segment] : offsets[segment + 1]]

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document's metadata, or None if it is not indexed."""
        for segment in reversed(self.index.segments):
            info = segment.store.document(doc_id)
            if info is not None and self._is_live(info.first_chunk):
                return info
        return None

    def _segment_with(self, doc_id: str):
        info = self.document(doc_id)
        if info is None:
            return None
        return self.index.segments[next(iter(self.index.segment_of([info.first_chunk])))].store

    def document_text(self, doc_id: str) -> str | None:
        store = self._segment_with(doc_id)
        return None if store is None else store.document_text(doc_id)

    def document_pages(self, doc_id: str) -> list[tuple[int, int, int, str | None]]:
        store = self._segment_with(doc_id)
        return [] if store is None else store.document_pages(doc_id)

    def chunk_doc_ids(self) -> dict[int, str]:
        """Every live chunk id with the id of its document (evaluation ranks documents by their chunks)."""
        live = set(self.index.ids[self.index.live].tolist())
        return {c: d for s in self.index.segments for c, d in s.store.chunk_doc_ids().items() if c in live}

    def count_chunks(self) -> int:
        return self.index.live_count

    def count_documents(self) -> int:
        return int(self.index.document_live.sum())

    def known_files(self) -> dict[str, KnownFile]:
        """Every live document's file hash, size and modification time."""
        known: dict[str, KnownFile] = {}
        for n, segment in enumerate(self.index.segments):
            live = self._live_documents(n)
            known.update((doc_id, info) for doc_id, number, info in segment.store.known_files() if live[number])
        return known

    def select(self, source_globs: list[str] | None, date_from: str | None, date_to: str | None) -> Selection:
        """The passages of documents whose path matches one of ``source_globs`` (SQLite GLOB patterns; None: any)
        and whose date lies in the range (a document without a date never matches a date bound), resolved in SQL
        (the date is indexed) per segment into document numbers, then into one mask over positions."""
        clauses, params = [], []
        if source_globs is not None:
            clauses.append("(" + " OR ".join("source GLOB ?" for _ in source_globs) + ")")
            params.extend(source_globs)
        if date_from is not None:
            clauses.append("date >= ?")
            params.append(date_from)
        if date_to is not None:
            clauses.append("date <= ?")
            params.append(date_to)
        where = " AND ".join(clauses) or "1"
        documents = np.zeros(int(self.index.document_offsets[-1]), dtype=bool)
        for segment, offset in zip(self.index.segments, self.index.document_offsets, strict=False):
            (numbers,) = segment.store.db.execute(
                f"SELECT group_concat(number) FROM documents WHERE {where}", params
            ).fetchone()
            if numbers:
                documents[np.fromstring(numbers, dtype=np.int64, sep=",") + offset] = True
        return Selection(documents[self.index.chunk_documents] & self.index.live)


def open_index(
    index_dir: Path, settings: Settings, *, previous: Index | None = None, verify: bool = False, deferred: bool = False
) -> Index:
    """Open the index in ``index_dir`` for reading, after checking it was built with ``settings.model`` and that
    its files have their recorded sizes (``verify``: their checksums too). Segments ``previous`` (an index open
    before) has open already are shared, not opened again: a reload costs what changed. ``deferred``: HNSW graphs
    are read on first use, for a build that may only need the stores (a service reads them before it answers).
    Dense search goes to the store ``settings.vector_store`` names (a Milvus store must be in step with this
    build, or ``VectorStoreError``); over Milvus the segments' graphs are never read."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest.model.name != settings.model:
        raise IndexMismatchError(
            f"index in {index_dir}/ was built with model {manifest.model.name!r} but the model setting is "
            f"{settings.model!r}. Set RAG_MODEL={manifest.model.name} to use it, or rebuild with rag index."
        )
    for info in manifest.files.values():
        _check_file(index_dir / info.name, info, verify=verify)
    reusable = {s.info.name: s for s in previous.segments} if previous is not None else {}
    deferred = deferred or StoreLocation.parse(settings.vector_store).is_milvus
    hnsw = HnswParameters.from_settings(settings)
    segments: list[Segment] = []
    try:
        for info in manifest.segments:
            shared = reusable.get(info.name)
            if shared is not None and shared.info == info:
                segments.append(shared.acquire())
            elif shared is not None:
                segments.append(shared.with_deletions(info, index_dir))
            else:
                segments.append(Segment.open(index_dir, info, hnsw, deferred=deferred))
    except (OSError, ValueError) as exc:
        for segment in segments:
            segment.release()
        raise IndexCorruptError(
            f"index in {index_dir}/ cannot be read ({type(exc).__name__}: {exc}); rebuild it with rag index"
        ) from exc
    index = Index(index_dir, manifest, segments, settings)
    if int(index.live.sum()) != manifest.counts["chunks"]:
        index.close()
        raise IndexCorruptError(
            f"index in {index_dir}/ holds {int(index.live.sum())} live passages, the manifest says "
            f"{manifest.counts['chunks']}; rebuild the index with rag index"
        )
    try:
        index.vectors = open_vector_search(index, settings)
    except BaseException:
        index.close()
        raise
    return index


def verify_index(index_dir: Path) -> list[str]:
    """Every file of the current build read and compared with its checksum; the problems found (empty: whole)."""
    manifest = read_manifest(index_dir)
    problems = []
    for info in manifest.files.values():
        try:
            _check_file(index_dir / info.name, info, verify=True)
        except IndexCorruptError as exc:
            problems.append(str(exc))
    return problems


def _check_file(path: Path, info: FileInfo, *, verify: bool) -> None:
    if not path.is_file():
        raise IndexCorruptError(f"index file {path} is missing; rebuild the index with rag index")
    size = path.stat().st_size
    if size != info.bytes:
        raise IndexCorruptError(
            f"index file {path} has {size} bytes, the manifest says {info.bytes} (truncated or changed); "
            "rebuild the index with rag index"
        )
    if verify and file_sha256(path) != info.sha256:
        raise IndexCorruptError(f"index file {path} does not match its checksum; rebuild the index with rag index")
