"""Search: candidates per mode (dense, BM25, fused), optional reranking, the answering sentence, and ``Hit``s with
their citations."""

from __future__ import annotations

from rag.search.retriever import Retriever
from rag.search.searcher import Searcher, validate_query

__all__ = ["Retriever", "Searcher", "validate_query"]
