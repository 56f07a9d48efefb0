"""Search: candidates per mode (dense, BM25, fused), optional reranking, the answering sentence, and ``Hit``s with
their citations."""

from __future__ import annotations

from rag.search.searcher import MAX_QUERY_CHARS, MAX_TOP_K, MODES, Searcher, validate_query

__all__ = ["MAX_QUERY_CHARS", "MAX_TOP_K", "MODES", "Searcher", "validate_query"]
