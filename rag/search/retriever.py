"""Retrieval: ranked chunk ids for questions, from one opened index. Dense vectors (FAISS), BM25, or both fused,
optionally rescored by a cross-encoder; restricted by filters through the store's indexed columns.

The retriever speaks ``Ranking``s (arrays of chunk ids and scores); turning them into passages with citations is
the searcher's job, and turning them into document rankings is evaluation's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.errors import IndexMismatchError, InvalidQueryError
from rag.index.reader import Index, Selection
from rag.language import LanguageCheck, language_check
from rag.search.fusion import (
    DocumentEvidence,
    FusionWeights,
    Ranking,
    evidence_fusion,
    min_max_fusion,
    reciprocal_rank_fusion,
)
from rag.search.rerank import Reranker
from rag.settings import Settings
from rag.types import SearchFilters


class Retriever:
    """Candidates per mode for one index and one loaded model (and a cross-encoder, when configured)."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        settings: Settings,
        reranker: Reranker | None = None,
        *,
        display_root: Path | None = None,
    ) -> None:
        if embedder.dimension != index.manifest.model.dimension:
            raise IndexMismatchError(
                f"model {embedder.name!r} makes {embedder.dimension}-dimensional vectors, the index holds "
                f"{index.manifest.model.dimension}-dimensional ones; rebuild the index with rag index"
            )
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.display_root = display_root or Path.cwd()
        """Source globs match paths relative to this folder (as citations show them) or absolute."""
        self.languages: LanguageCheck | None = language_check(settings.model_languages, embedder.path)
        """Which questions the model reads; hybrid fusion leans on BM25 for the others (None: it reads all)."""

    @property
    def size(self) -> int:
        """Chunks in the index."""
        return len(self.index.vectors)

    def depth(self, wanted: int, mode: str) -> int:
        """Candidates to fetch from each list: ``wanted``, at least ``fusion_depth`` for hybrid, at most all."""
        floor = self.settings.fusion_depth if mode == "hybrid" else 1
        return max(1, min(self.size, max(wanted, floor)))

    def rank(
        self, queries: Sequence[str], vectors: np.ndarray | None, mode: str, depth: int, allowed: Selection | None
    ) -> list[Ranking]:
        """The best ``depth`` chunks per query by ``mode``; ``vectors`` are the queries' (needed unless bm25);
        ``allowed`` restricts to those chunk ids."""
        dense = lexical = None
        if mode in ("dense", "hybrid"):
            if vectors is None:
                raise ValueError(f"mode {mode} needs the queries' vectors")
            scores, ids = self.index.vectors.search(vectors, depth, allowed)
            dense = [Ranking.from_row(s, i) for s, i in zip(scores, ids, strict=True)]
        if mode in ("bm25", "hybrid"):
            scores, ids = self.index.lexical.search(list(queries), depth, allowed)
            lexical = [Ranking.from_row(s, i) for s, i in zip(scores, ids, strict=True)]
        if dense is None or lexical is None:
            return dense or lexical or []
        if self.settings.fusion == "rrf":
            return [reciprocal_rank_fusion([d, b], self.settings.rrf_k) for d, b in zip(dense, lexical, strict=True)]
        if self.settings.fusion == "minmax":
            return [
                min_max_fusion(d, b, 1.0 - self.lexical_weight(query))
                for query, d, b in zip(queries, dense, lexical, strict=True)
            ]
        mask = self.index.documents.mask(allowed)
        return [
            evidence_fusion(d, b, self.document_evidence(query, depth, mask), self.fusion_weights(query))
            for query, d, b in zip(queries, dense, lexical, strict=True)
        ]

    def lexical_weight(self, query: str) -> float:
        """BM25's weight in fusion: ``1 - fusion_dense_weight``, or ``fusion_foreign_lexical_weight`` for a
        question in none of the model's languages."""
        if self.languages is not None and not self.languages.reads(query):
            return self.settings.fusion_foreign_lexical_weight
        return 1.0 - self.settings.fusion_dense_weight

    def fusion_weights(self, query: str) -> FusionWeights:
        settings = self.settings
        return FusionWeights(
            self.lexical_weight(query), settings.fusion_evidence_low, settings.fusion_evidence_high,
            settings.fusion_document_weight,
        )  # fmt: skip

    def document_evidence(self, query: str, depth: int, mask: np.ndarray | None) -> DocumentEvidence:
        """The question's whole-document BM25 evidence over the documents ``mask`` keeps (all when None)."""
        documents = self.index.documents
        return DocumentEvidence.from_scores(documents.scores(query, mask), documents.documents_of, depth)

    def use_reranker(self, rerank: bool | None) -> bool:
        """Whether to rerank: as asked, or when a cross-encoder is configured; asking without one is an error."""
        if rerank and self.reranker is None:
            raise InvalidQueryError(
                "reranking needs a cross-encoder: set RAG_RERANKER to a local CrossEncoder folder (see README)"
            )
        return self.reranker is not None if rerank is None else rerank

    def rerank(
        self,
        queries: Sequence[str],
        rankings: list[Ranking],
        n: int,
        *,
        keep_tail: bool = False,
        texts: Mapping[int, str] | None = None,
    ) -> list[Ranking]:
        """The first ``n`` candidates rescored by the cross-encoder; with ``keep_tail`` the rest follow in their
        order with scores below the reranked ones (so deep document rankings stay complete). ``texts`` are the
        candidates' texts when the caller already read them from the store."""
        if self.reranker is None:
            raise InvalidQueryError("reranking needs a cross-encoder: set RAG_RERANKER (see README)")
        if texts is None:
            stored = self.index.store.chunks(int(i) for r in rankings for i in r.ids[:n])
            texts = {chunk_id: chunk.text for chunk_id, chunk in stored.items()}
        reranked = []
        for query, ranking in zip(queries, rankings, strict=True):
            head = ranking.head(n)
            scores = self.reranker.score(query, [texts[int(i)] for i in head.ids])
            result = Ranking.from_scores(dict(zip(head.ids.tolist(), scores.tolist(), strict=True)))
            if keep_tail and len(ranking) > n:
                floor = float(scores.min()) - 1.0
                tail = ranking.ids[n:]
                tail_scores = floor - np.arange(len(tail)) / len(tail)
                result = Ranking(np.concatenate([result.ids, tail]), np.concatenate([result.scores, tail_scores]))
            reranked.append(result)
        return reranked

    def allowed_chunk_ids(self, filters: SearchFilters) -> Selection:
        """The passages a search with ``filters`` may return: a source glob matches a path relative to the display
        root (as citations show it) or absolute; dates compare as ISO dates."""
        globs = None
        if filters.source is not None:
            prefix = str(self.display_root).rstrip(os.sep) + os.sep
            globs = [sqlite_glob(filters.source), _glob_literal(prefix) + sqlite_glob(filters.source)]
        return self.index.store.select(
            globs,
            filters.date_from.isoformat() if filters.date_from else None,
            filters.date_to.isoformat() if filters.date_to else None,
        )

    def chunk_documents(self) -> dict[int, str]:
        """Every chunk id and the document it belongs to."""
        return self.index.store.chunk_doc_ids()


def sqlite_glob(pattern: str) -> str:
    """An ``fnmatch`` pattern as SQLite GLOB spells it: both match case-sensitively, ``*`` across ``/`` too; only
    a negated class differs (``[!a]`` is ``[^a]``)."""
    return pattern.replace("[!", "[^")


def _glob_literal(text: str) -> str:
    """``text`` matched literally by GLOB (its wildcards in brackets)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
