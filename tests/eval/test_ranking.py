"""Document rankings for evaluation: a document scores as its best passage, against a brute-force reference over
every passage of the stand-in index of the seeds."""

from __future__ import annotations

import numpy as np
import pytest

from rag.eval.ranking import DocumentRanker, best_per_document
from rag.search.fusion import Ranking


def reference_documents(ranking: Ranking, chunk_documents: dict[int, str], k: int) -> list[tuple[str, float]]:
    """Every document with its best chunk's score, best first; equal scores in the order the chunks came."""
    best: dict[str, tuple[float, int]] = {}
    for position, (chunk_id, score) in enumerate(zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True)):
        doc_id = chunk_documents.get(chunk_id)
        if doc_id is not None and (doc_id not in best or score > best[doc_id][0]):
            best[doc_id] = (score, best.get(doc_id, (score, position))[1])
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
    return [(doc_id, score) for doc_id, (score, _) in ordered[:k]]


@pytest.mark.parametrize("seed", range(10))
def test_best_per_document_matches_a_brute_force_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chunk_documents = {chunk_id: f"d{rng.integers(8)}" for chunk_id in range(40)}
    ids = rng.choice(45, size=30, replace=False)  # some ids (40..44) belong to no document: skipped
    ranking = Ranking.from_scores(dict(zip(ids.tolist(), np.round(rng.random(30), 1).tolist(), strict=True)))
    for k in (1, 3, 100):
        assert best_per_document(ranking, chunk_documents, k) == reference_documents(ranking, chunk_documents, k)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_document_ranker_finds_what_ranking_every_passage_finds(standin_searcher, mode: str) -> None:
    retriever = standin_searcher.retriever
    chunk_documents = standin_searcher.index.store.chunk_doc_ids()
    questions = ["Whose memory is honored on Victory Day?", "Which airport is still being built?"]
    vectors = standin_searcher.embedder.embed_queries(questions)
    everything = retriever.rank(questions, vectors, mode, retriever.size, None)
    ranked = DocumentRanker(retriever).rank(questions, 3, mode=mode)
    for got, full in zip(ranked, everything, strict=True):
        expected = reference_documents(full, chunk_documents, 3)
        assert [doc_id for doc_id, _ in got] == [doc_id for doc_id, _ in expected]
        assert [score for _, score in got] == pytest.approx([score for _, score in expected])
