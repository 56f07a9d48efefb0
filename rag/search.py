"""Search: questions in, ranked passages with verifiable citations out.

The single-question call is the batch call: ``search(q)`` is ``search_batch([q])[0]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.embedding import Embedder
from rag.errors import IndexMismatchError, InvalidQueryError
from rag.index import Index, open_index
from rag.settings import Settings
from rag.store import StoredChunk

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 100


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: ``text == decoded_source_text[start:end]``, on lines ``line_start..line_end``."""

    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    date: str | None
    doc_id: str


@dataclass(frozen=True)
class Hit:
    """One ranked passage."""

    rank: int
    score: float
    text: str
    citation: Citation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to some documents: a glob on the source path, and an inclusive range of dates.

    The glob matches the source as cited (relative to the working directory) or the absolute path, with
    ``fnmatch`` rules (``*`` also crosses ``/``). A date bound excludes documents without a date.
    """

    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidQueryError(f"date_from {self.date_from} is after date_to {self.date_to}")

    @property
    def is_empty(self) -> bool:
        return self.source is None and self.date_from is None and self.date_to is None


def display_source(source: str, cwd: Path | None = None) -> str:
    """A source path relative to the working directory when it lies under it, otherwise unchanged (absolute)."""
    base = str(cwd or Path.cwd())
    prefix = base if base.endswith(os.sep) else base + os.sep
    return source[len(prefix) :] if source.startswith(prefix) else source


def validate_query(query: str) -> str:
    """The query stripped of surrounding white space, or an ``InvalidQueryError`` saying what is wrong."""
    if not isinstance(query, str):
        raise InvalidQueryError(f"a question must be a string, got {type(query).__name__}")
    stripped = query.strip()
    if not stripped:
        raise InvalidQueryError('the question is empty; ask something, for example: rag search "What happened?"')
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"the question has {len(stripped)} characters; the limit is {MAX_QUERY_CHARS}")
    return stripped


def validate_top_k(k: int) -> int:
    if not 1 <= k <= MAX_TOP_K:
        raise InvalidQueryError(f"k must be between 1 and {MAX_TOP_K}, got {k}")
    return k


class Searcher:
    """Answers questions from one opened index with one loaded model."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings) -> None:
        if embedder.dimension != index.manifest.model.dimension:
            raise IndexMismatchError(
                f"model {embedder.name!r} makes {embedder.dimension}-dimensional vectors, the index holds "
                f"{index.manifest.model.dimension}-dimensional ones; rebuild the index with rag index"
            )
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._chunk_docs: dict[int, str] | None = None

    @classmethod
    def open(cls, settings: Settings, index_dir: Path | None = None) -> Searcher:
        """Open the index (checked against the settings) and load its model once."""
        faiss.omp_set_num_threads(settings.faiss_threads)
        index = open_index(Path(index_dir or settings.index_dir), settings)
        embedder = Embedder(settings.model, device=settings.device, batch_size=settings.batch_size)
        return cls(index, embedder, settings)

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.index.close()

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> list[Hit]:
        """Top-``k`` passages for one question."""
        return self.search_batch([query], k, filters)[0]

    def search_batch(
        self, queries: Sequence[str], k: int | None = None, filters: SearchFilters | None = None
    ) -> list[list[Hit]]:
        """Top-``k`` passages for each question, best first; equal scores are ordered by chunk id."""
        k = validate_top_k(k if k is not None else self.settings.top_k)
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        allowed = None if filters is None or filters.is_empty else self._allowed_chunk_ids(filters)
        if allowed is not None and allowed.size == 0:
            return [[] for _ in cleaned]
        scores, ids = self.index.vectors.search(self.embedder.embed_queries(cleaned), k, allowed)
        stored = self.index.store.chunks(int(i) for i in ids.ravel() if i >= 0)
        results = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            ranked = [(float(s), int(i)) for s, i in zip(row_scores, row_ids, strict=True) if int(i) in stored]
            results.append([_hit(rank, score, stored[cid]) for rank, (score, cid) in enumerate(ranked, start=1)])
        return results

    def rank_documents(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        """The top-``k`` documents per query, a document scoring as its best chunk (for IR evaluation).

        Chunks are fetched deep enough to yield ``k`` distinct documents (or the whole index)."""
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        if self._chunk_docs is None:
            self._chunk_docs = self.index.store.chunk_doc_ids()
        vectors = self.embedder.embed_queries(cleaned)
        total = len(self.index.vectors)
        depth = min(total, 4 * k)
        while True:
            scores, ids = self.index.vectors.search(vectors, max(depth, 1))
            rankings = [
                _best_per_document(row_scores, row_ids, self._chunk_docs, k)
                for row_scores, row_ids in zip(scores, ids, strict=True)
            ]
            if depth >= total or all(len(r) == k for r in rankings):
                return rankings
            depth = min(total, depth * 2)

    def _allowed_chunk_ids(self, filters: SearchFilters) -> np.ndarray:
        doc_ids = None
        if filters.source is not None:
            doc_ids = [
                d.doc_id
                for d in self.index.store.documents()
                if fnmatchcase(display_source(d.source), filters.source) or fnmatchcase(d.source, filters.source)
            ]
        ids = self.index.store.chunk_ids_where(
            doc_ids,
            filters.date_from.isoformat() if filters.date_from else None,
            filters.date_to.isoformat() if filters.date_to else None,
        )
        return np.asarray(ids, dtype=np.int64)


def _best_per_document(
    scores: np.ndarray, ids: np.ndarray, chunk_docs: dict[int, str], k: int
) -> list[tuple[str, float]]:
    """Documents in order of their best chunk, at most ``k``; chunks arrive best first."""
    best: dict[str, float] = {}
    for score, chunk_id in zip(scores, ids, strict=True):
        doc_id = chunk_docs.get(int(chunk_id))
        if doc_id is not None and doc_id not in best:
            best[doc_id] = float(score)
            if len(best) == k:
                break
    return list(best.items())


def _hit(rank: int, score: float, chunk: StoredChunk) -> Hit:
    return Hit(
        rank=rank,
        score=round(score, 6),
        text=chunk.text,
        citation=Citation(
            source=display_source(chunk.source),
            start=chunk.start,
            end=chunk.end,
            line_start=chunk.line_start,
            line_end=chunk.line_end,
            date=chunk.date,
            doc_id=chunk.doc_id,
        ),
    )
