"""Document rankings for IR evaluation: BEIR judges documents, the index ranks passages, so a document scores as
its best passage."""

from __future__ import annotations

from collections.abc import Sequence

from rag.search.fusion import Ranking
from rag.search.retriever import Retriever
from rag.search.searcher import validate_mode, validate_query


class DocumentRanker:
    """Top documents per query from one retriever; the chunk-to-document map is read once."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self._chunk_documents: dict[int, str] | None = None

    def rank(
        self, queries: Sequence[str], k: int, *, mode: str | None = None, rerank: bool | None = None
    ) -> list[list[tuple[str, float]]]:
        """The top-``k`` documents per query, best first. Chunks are fetched deep enough to yield ``k`` distinct
        documents (or the whole index)."""
        retriever = self.retriever
        mode = validate_mode(mode or retriever.settings.mode)
        rerank = retriever.use_reranker(rerank)
        cleaned = [validate_query(q) for q in queries]
        if not cleaned:
            return []
        if self._chunk_documents is None:
            self._chunk_documents = retriever.chunk_documents()
        embedder = retriever.embedder
        vectors = embedder.embed_queries(cleaned, batch_size=embedder.batch_size) if mode != "bm25" else None
        depth = retriever.depth(4 * k, mode)
        while True:
            rankings = retriever.rank(cleaned, vectors, mode, depth, None)
            if rerank:
                rankings = retriever.rerank(cleaned, rankings, retriever.settings.rerank_depth, keep_tail=True)
            documents = [best_per_document(r, self._chunk_documents, k) for r in rankings]
            if depth >= retriever.size or all(len(d) == k for d in documents):
                return documents
            depth = min(retriever.size, depth * 2)


def best_per_document(ranking: Ranking, chunk_documents: dict[int, str], k: int) -> list[tuple[str, float]]:
    """Documents in order of their best chunk, at most ``k``; chunks arrive best first."""
    best: dict[str, float] = {}
    for chunk_id, score in zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True):
        doc_id = chunk_documents.get(chunk_id)
        if doc_id is not None and doc_id not in best:
            best[doc_id] = float(score)
            if len(best) == k:
                break
    return list(best.items())
