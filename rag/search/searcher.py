"""Search: questions in, ranked passages with verifiable citations out.

A question goes: retrieve chunk candidates (dense vectors, BM25, or both fused) -> optionally rerank them with a
cross-encoder -> drop passages that overlap a better one of the same document -> mark each passage's answering
sentence. The single-question call is the batch call: ``search(q)`` is ``search_batch([q])[0]``.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path

import faiss
import numpy as np

from rag.embedding import Embedder
from rag.errors import IndexMismatchError, InvalidQueryError
from rag.index.reader import Index, open_index
from rag.index.store import StoredChunk
from rag.search.fusion import Ranking, min_max_fusion, reciprocal_rank_fusion
from rag.search.highlight import best_sentence
from rag.search.rerank import Reranker
from rag.settings import Settings
from rag.types import Citation, Hit, SearchFilters, Span

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 100
MODES = ("dense", "bm25", "hybrid")


def display_source(source: str, cwd: Path | None = None) -> str:
    """A source path relative to the working directory when it lies under it, otherwise unchanged (absolute)."""
    base = str(cwd or Path.cwd())
    prefix = base if base.endswith(os.sep) else base + os.sep
    return source[len(prefix) :] if source.startswith(prefix) else source


_BLANK = "".join(c for c in map(chr, range(0x3001)) if c.isspace() or unicodedata.category(c) == "Cc")
"""White space and the C0/C1 control characters (every white space character lies below U+3001): a question of
only these asks nothing. Stripped with ``str.strip``, which is linear, where a regex anchored at the end is not."""
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A UTF-16 surrogate on its own (what a JSON ``\\ud800`` escape decodes to): not a character."""


def validate_query(query: str) -> str:
    """The query stripped of surrounding white space and control characters, or an ``InvalidQueryError`` saying
    what is wrong. A lone surrogate (which JSON's ``\\ud800`` escape can smuggle in) is refused here, because it
    is not text: the tokenizer fails on it and no response holding it can be encoded as UTF-8."""
    if not isinstance(query, str):
        raise InvalidQueryError(f"a question must be a string, got {type(query).__name__}")
    if surrogate := LONE_SURROGATE.search(query):
        raise InvalidQueryError(
            f"the question holds a lone surrogate (U+{ord(surrogate.group()):04X}) at character "
            f"{surrogate.start()}, which is not text; send the question as valid Unicode"
        )
    stripped = query.strip(_BLANK)
    if not stripped:
        raise InvalidQueryError('the question is empty; ask something, for example: rag search "What happened?"')
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"the question has {len(stripped)} characters; the limit is {MAX_QUERY_CHARS}")
    return stripped


def validate_top_k(k: int) -> int:
    if not 1 <= k <= MAX_TOP_K:
        raise InvalidQueryError(f"k must be between 1 and {MAX_TOP_K}, got {k}")
    return k


def validate_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidQueryError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


class Searcher:
    """Answers questions from one opened index with one loaded model (and a cross-encoder, when configured)."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings, reranker: Reranker | None = None) -> None:
        if embedder.dimension != index.manifest.model.dimension:
            raise IndexMismatchError(
                f"model {embedder.name!r} makes {embedder.dimension}-dimensional vectors, the index holds "
                f"{index.manifest.model.dimension}-dimensional ones; rebuild the index with rag index"
            )
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self._chunk_docs: dict[int, str] | None = None

    @classmethod
    def open(cls, settings: Settings, index_dir: Path | None = None) -> Searcher:
        """Open the index (checked against the settings) and load its models once."""
        faiss.omp_set_num_threads(settings.faiss_threads)
        index = open_index(Path(index_dir or settings.index_dir), settings)
        embedder = Embedder(settings.model, device=settings.device, batch_size=settings.batch_size)
        reranker = Reranker(settings.reranker, device=settings.device) if settings.reranker else None
        return cls(index, embedder, settings, reranker)

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.index.close()

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> list[Hit]:
        """Top-``k`` passages for one question."""
        return self.search_batch([query], k, filters, mode=mode, rerank=rerank)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> list[list[Hit]]:
        """Top-``k`` passages for each question, best first, none overlapping another of the same document.

        ``mode`` is ``dense``, ``bm25`` or ``hybrid`` (default: the setting); ``rerank`` defaults to whether a
        cross-encoder is configured. Equal scores are ordered by chunk id."""
        k = validate_top_k(k if k is not None else self.settings.top_k)
        mode = validate_mode(mode or self.settings.mode)
        rerank = self._check_rerank(rerank)
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        allowed = None if filters is None or filters.is_empty else self._allowed_chunk_ids(filters)
        if allowed is not None and allowed.size == 0:
            return [[] for _ in cleaned]
        vectors = self.embedder.embed_queries(cleaned) if mode != "bm25" or self.settings.highlight else None
        rankings = self._rank_chunks(cleaned, vectors, mode, self._depth(3 * k, mode), allowed)
        if rerank:
            rankings = self._rerank(cleaned, rankings, max(self.settings.rerank_depth, 2 * k))
        stored = self.index.store.chunks(int(i) for r in rankings for i in r.ids)
        kept = [_without_overlaps(ranking, stored, k) for ranking in rankings]
        spans: list[list[Span | None]] = [[None] * len(row) for row in kept]
        if self.settings.highlight and vectors is not None:
            sentences = self.index.store.sentences(cid for row in kept for cid, _ in row)
            spans = [
                [best_sentence(vector, sentences[cid]) if cid in sentences else None for cid, _ in row]
                for vector, row in zip(vectors, kept, strict=True)
            ]
        return [
            [
                _hit(rank, score, stored[cid], span)
                for rank, ((cid, score), span) in enumerate(zip(row, row_spans, strict=True), start=1)
            ]
            for row, row_spans in zip(kept, spans, strict=True)
        ]

    def rank_documents(
        self, queries: Sequence[str], k: int, *, mode: str | None = None, rerank: bool | None = None
    ) -> list[list[tuple[str, float]]]:
        """The top-``k`` documents per query, a document scoring as its best chunk (for IR evaluation).

        Chunks are fetched deep enough to yield ``k`` distinct documents (or the whole index)."""
        mode = validate_mode(mode or self.settings.mode)
        rerank = self._check_rerank(rerank)
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        if self._chunk_docs is None:
            self._chunk_docs = self.index.store.chunk_doc_ids()
        vectors = self.embedder.embed_queries(cleaned) if mode != "bm25" else None
        total = len(self.index.vectors)
        depth = self._depth(4 * k, mode)
        while True:
            rankings = self._rank_chunks(cleaned, vectors, mode, depth, None)
            if rerank:
                rankings = self._rerank(cleaned, rankings, self.settings.rerank_depth, keep_tail=True)
            documents = [_best_per_document(r, self._chunk_docs, k) for r in rankings]
            if depth >= total or all(len(d) == k for d in documents):
                return documents
            depth = min(total, depth * 2)

    def _depth(self, wanted: int, mode: str) -> int:
        """Candidates to fetch from each list: ``wanted``, at least ``fusion_depth`` for hybrid, at most all."""
        floor = self.settings.fusion_depth if mode == "hybrid" else 1
        return max(1, min(len(self.index.vectors), max(wanted, floor)))

    def _rank_chunks(
        self, queries: list[str], vectors: np.ndarray | None, mode: str, depth: int, allowed: np.ndarray | None
    ) -> list[Ranking]:
        dense = lexical = None
        if mode in ("dense", "hybrid"):
            assert vectors is not None
            scores, ids = self.index.vectors.search(vectors, depth, allowed)
            dense = [Ranking.from_row(s, i) for s, i in zip(scores, ids, strict=True)]
        if mode in ("bm25", "hybrid"):
            scores, ids = self.index.lexical.search(queries, depth, allowed)
            lexical = [Ranking.from_row(s, i) for s, i in zip(scores, ids, strict=True)]
        if dense is None or lexical is None:
            return dense or lexical or []
        if self.settings.fusion == "rrf":
            return [reciprocal_rank_fusion([d, b], self.settings.rrf_k) for d, b in zip(dense, lexical, strict=True)]
        weight = self.settings.fusion_dense_weight
        return [min_max_fusion(d, b, weight) for d, b in zip(dense, lexical, strict=True)]

    def _check_rerank(self, rerank: bool | None) -> bool:
        if rerank and self.reranker is None:
            raise InvalidQueryError(
                "reranking needs a cross-encoder: set RAG_RERANKER to a local CrossEncoder folder (see README)"
            )
        return self.reranker is not None if rerank is None else rerank

    def _rerank(self, queries: list[str], rankings: list[Ranking], n: int, *, keep_tail: bool = False) -> list[Ranking]:
        """The first ``n`` candidates rescored by the cross-encoder; with ``keep_tail`` the rest follow in their
        order with scores below the reranked ones (so deep document rankings stay complete)."""
        assert self.reranker is not None
        texts = self.index.store.chunks(int(i) for r in rankings for i in r.ids[:n])
        reranked = []
        for query, ranking in zip(queries, rankings, strict=True):
            head = ranking.head(n)
            scores = self.reranker.score(query, [texts[int(i)].text for i in head.ids])
            result = Ranking.from_scores(dict(zip(head.ids.tolist(), scores.tolist(), strict=True)))
            if keep_tail and len(ranking) > n:
                floor = float(scores.min()) - 1.0
                tail = ranking.ids[n:]
                tail_scores = floor - np.arange(len(tail)) / len(tail)
                result = Ranking(np.concatenate([result.ids, tail]), np.concatenate([result.scores, tail_scores]))
            reranked.append(result)
        return reranked

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


def _without_overlaps(ranking: Ranking, stored: dict[int, StoredChunk], k: int) -> list[tuple[int, float]]:
    """The best ``k`` candidates, skipping any that shares text with a better one of the same document (overlapping
    chunks would show the same sentence twice)."""
    kept: list[tuple[int, float]] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    for chunk_id, score in zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True):
        chunk = stored.get(chunk_id)
        if chunk is None:
            continue
        taken = spans.setdefault(chunk.doc_id, [])
        if any(chunk.start < end and start < chunk.end for start, end in taken):
            continue
        taken.append((chunk.start, chunk.end))
        kept.append((chunk_id, score))
        if len(kept) == k:
            break
    return kept


def _best_per_document(ranking: Ranking, chunk_docs: dict[int, str], k: int) -> list[tuple[str, float]]:
    """Documents in order of their best chunk, at most ``k``; chunks arrive best first."""
    best: dict[str, float] = {}
    for chunk_id, score in zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True):
        doc_id = chunk_docs.get(chunk_id)
        if doc_id is not None and doc_id not in best:
            best[doc_id] = float(score)
            if len(best) == k:
                break
    return list(best.items())


def _hit(rank: int, score: float, chunk: StoredChunk, highlight: Span | None = None) -> Hit:
    """A result in citation coordinates: the document's text, or the page's text for a PDF."""
    shift, line_shift = chunk.page_start, chunk.page_line - 1
    return Hit(
        rank=rank,
        score=round(score, 6),
        text=chunk.text,
        citation=Citation(
            source=display_source(chunk.source),
            start=chunk.start - shift,
            end=chunk.end - shift,
            line_start=chunk.line_start - line_shift,
            line_end=chunk.line_end - line_shift,
            date=chunk.date,
            doc_id=chunk.doc_id,
            section=chunk.section,
            page=chunk.page,
            page_label=chunk.page_label,
        ),
        highlight=Span(highlight.start - shift, highlight.end - shift) if highlight else None,
    )
