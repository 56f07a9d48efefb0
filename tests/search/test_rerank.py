"""Reranking with a cross-encoder built here: results come in the cross-encoder's order with its scores, and
document rankings for evaluation rerank too."""

from __future__ import annotations

from itertools import pairwise

import pytest

from rag.eval.ranking import DocumentRanker
from rag.index.reader import open_index
from rag.search.searcher import Searcher


def test_reranking_orders_candidates_by_the_cross_encoder(
    standin_seed_index, standin_settings, standin_embedder, tiny_cross_encoder
) -> None:
    from sentence_transformers import CrossEncoder

    from rag.search.rerank import Reranker

    seed_index, settings, embedder = standin_seed_index, standin_settings, standin_embedder
    configured = settings.model_copy(update={"reranker": str(tiny_cross_encoder), "rerank_depth": 12})
    reranker = Reranker(str(tiny_cross_encoder))
    question = "What explosive hazards were left?"
    with Searcher(open_index(seed_index.index_dir, configured), embedder, configured, reranker) as searcher:
        plain = searcher.search(question, 5, rerank=False)
        reranked = searcher.search(question, 5)  # a configured reranker is used by default
        documents = DocumentRanker(searcher.retriever).rank([question], 5)[0]
    independent = CrossEncoder(str(tiny_cross_encoder)).predict([(question, h.text) for h in reranked])
    assert [h.score for h in reranked] == pytest.approx(independent.tolist(), abs=1e-5)
    assert all(a.score >= b.score for a, b in pairwise(reranked))
    assert [h.citation.start for h in reranked] != [h.citation.start for h in plain]
    assert len(documents) == 5 and len({d for d, _ in documents}) == 5  # every seed document, reranked head first
