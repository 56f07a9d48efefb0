"""Fusion against values computed by hand and against a brute-force reference: min-max fusion, reciprocal rank
fusion, and ties broken by the smaller id."""

from __future__ import annotations

import numpy as np
import pytest

from rag.search.fusion import (
    EVIDENCE_RANK,
    DocumentEvidence,
    FusionWeights,
    Ranking,
    evidence_fusion,
    min_max_fusion,
    reciprocal_rank_fusion,
)


def test_min_max_fusion_matches_hand_computed_values() -> None:
    dense = Ranking(np.array([1, 2, 3]), np.array([0.9, 0.7, 0.5]))
    bm25 = Ranking(np.array([3, 4]), np.array([12.0, 4.0]))
    fused = min_max_fusion(dense, bm25, dense_weight=0.6)
    # dense scaled: 1 -> 1, 2 -> 0.5, 3 -> 0; bm25 scaled: 3 -> 1, 4 -> 0.
    expected = {1: 0.6, 2: 0.3, 3: 0.4, 4: 0.0}
    assert fused.ids.tolist() == [1, 3, 2, 4]
    assert fused.scores.tolist() == pytest.approx([expected[i] for i in fused.ids.tolist()])
    single = min_max_fusion(Ranking(np.array([5]), np.array([0.2])), Ranking(np.array([]), np.array([])), 0.5)
    assert single.ids.tolist() == [5] and single.scores.tolist() == [0.5]


def test_reciprocal_rank_fusion_matches_hand_computed_values() -> None:
    a = Ranking(np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0]))
    b = Ranking(np.array([3, 1]), np.array([9.0, 8.0]))
    fused = reciprocal_rank_fusion([a, b], k=10)
    expected = {1: 1 / 11 + 1 / 12, 3: 1 / 13 + 1 / 11, 2: 1 / 12}
    assert fused.ids.tolist() == [1, 3, 2]
    assert fused.scores.tolist() == pytest.approx([expected[i] for i in (1, 3, 2)])


def test_reciprocal_rank_fusion_uses_k_60_by_default() -> None:
    fused = reciprocal_rank_fusion([Ranking(np.array([4, 8]), np.array([0.9, 0.1]))])
    assert fused.ids.tolist() == [4, 8]
    assert fused.scores.tolist() == pytest.approx([1 / 61, 1 / 62])


def test_equal_fused_scores_are_ordered_by_the_smaller_id() -> None:
    # min-max, weight 0.5: 7 gets 0.5 * 1 + 0.5 * 0, 3 gets 0.5 * 0 + 0.5 * 1, 12 gets 0.5 * 0.5 + 0.5 * 0.5.
    dense = Ranking(np.array([7, 12, 3]), np.array([0.8, 0.5, 0.2]))
    lexical = Ranking(np.array([3, 12, 7]), np.array([5.0, 3.0, 1.0]))
    fused = min_max_fusion(dense, lexical, dense_weight=0.5)
    assert fused.ids.tolist() == [3, 7, 12]
    assert fused.scores.tolist() == pytest.approx([0.5, 0.5, 0.5])
    # RRF: 9 and 4 swap places between the lists, so each scores 1/61 + 1/62.
    fused = reciprocal_rank_fusion([Ranking(np.array([9, 4]), np.ones(2)), Ranking(np.array([4, 9]), np.ones(2))])
    assert fused.ids.tolist() == [4, 9]
    assert fused.scores[0] == fused.scores[1] == pytest.approx(1 / 61 + 1 / 62)


def test_a_list_of_equal_scores_counts_each_as_the_best() -> None:
    fused = min_max_fusion(
        Ranking(np.array([6, 2]), np.array([0.4, 0.4])), Ranking(np.array([2]), np.array([3.0])), 0.3
    )
    # dense: both scale to 1 (nothing to tell them apart); BM25: 2 alone scales to 1.
    assert fused.ids.tolist() == [2, 6]
    assert fused.scores.tolist() == pytest.approx([0.3 + 0.7, 0.3])


def test_empty_lists_fuse_to_an_empty_ranking() -> None:
    empty = Ranking(np.array([], dtype=np.int64), np.array([]))
    assert len(min_max_fusion(empty, empty, 0.5)) == 0
    assert len(reciprocal_rank_fusion([empty, empty])) == 0
    assert len(reciprocal_rank_fusion([])) == 0


def random_ranking(rng: np.random.Generator, pool: int, scale: float) -> Ranking:
    """A ranking of a random subset of ids ``0..pool-1``, best first, with some repeated scores."""
    ids = rng.choice(pool, size=int(rng.integers(0, pool)), replace=False)
    scores = np.sort(np.round(rng.random(len(ids)) * scale, 1))[::-1]
    return Ranking(ids.astype(np.int64), scores)


def reference_min_max(dense: Ranking, lexical: Ranking, weight: float) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking, w in ((dense, weight), (lexical, 1 - weight)):
        scores = [float(s) for s in ranking.scores]
        low, high = min(scores, default=0.0), max(scores, default=0.0)
        for chunk_id, score in zip(ranking.ids.tolist(), scores, strict=True):
            scaled = 1.0 if high == low else (score - low) / (high - low)
            fused[chunk_id] = fused.get(chunk_id, 0.0) + w * scaled
    return fused


def reference_rrf(rankings: list[Ranking], k: int) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for position, chunk_id in enumerate(ranking.ids.tolist()):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1 / (k + position + 1)
    return fused


def assert_matches(fused: Ranking, expected: dict[int, float]) -> None:
    """The fused ranking holds exactly the expected ids with their scores, best first, equal scores by id."""
    assert sorted(fused.ids.tolist()) == sorted(expected)
    got = dict(zip(fused.ids.tolist(), fused.scores.tolist(), strict=True))
    assert got == pytest.approx(expected, abs=1e-12)
    assert fused.ids.tolist() == sorted(got, key=lambda i: (-got[i], i))


@pytest.mark.parametrize("seed", range(20))
def test_fusion_matches_a_brute_force_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    dense, lexical = random_ranking(rng, 30, 1.0), random_ranking(rng, 30, 20.0)
    weight = float(rng.choice([0.0, 0.25, 0.5, 0.9, 1.0]))
    assert_matches(min_max_fusion(dense, lexical, weight), reference_min_max(dense, lexical, weight))
    lists = [random_ranking(rng, 30, 1.0) for _ in range(int(rng.integers(1, 4)))]
    k = int(rng.choice([1, 10, 60]))
    assert_matches(reciprocal_rank_fusion(lists, k), reference_rrf(lists, k))


def test_rankings_from_index_rows_drop_the_padding_and_order_ties_by_id() -> None:
    row = Ranking.from_row(np.array([0.9, 0.4, 0.0, 0.0]), np.array([5, 2, -1, -1]))
    assert row.ids.tolist() == [5, 2] and row.scores.tolist() == [0.9, 0.4]
    assert row.ids.dtype == np.int64
    scored = Ranking.from_scores({8: 0.5, 3: 0.7, 1: 0.5, 9: 0.7})
    assert scored.ids.tolist() == [3, 9, 1, 8] and scored.scores.tolist() == [0.7, 0.7, 0.5, 0.5]
    assert scored.head(3).ids.tolist() == [3, 9, 1] and len(scored.head(10)) == 4


# --- evidence-weighted fusion -------------------------------------------------------------------------------


def _evidence(document_scores: list[float], chunk_documents: dict[int, int], depth: int = 100) -> DocumentEvidence:
    lookup = np.vectorize(chunk_documents.__getitem__, otypes=[np.int64])
    return DocumentEvidence.from_scores(np.array(document_scores), lambda ids: lookup(ids), depth)


def test_evidence_is_how_far_the_best_document_stands_above_the_fifteenth() -> None:
    assert EVIDENCE_RANK == 15
    flat = _evidence([10.0 - 0.1 * i for i in range(15)] + [1.0], {})
    assert flat.strength == pytest.approx((10.0 - 8.6) / 10.0)
    peaked = _evidence([20.0] + [5.0] * 13 + [4.0, 0.0, 0.0], {})
    assert peaked.strength == pytest.approx((20.0 - 4.0) / 20.0)
    # words found in fewer than fifteen documents single them out: full evidence; no document matched: none
    assert _evidence([3.0, 0.0, 2.0], {}).strength == 1.0
    assert _evidence([0.0, 0.0], {}).strength == 0.0
    # scaled over the matching documents: best 1, the lowest 0, unmatched 0
    assert _evidence([3.0, 0.0, 2.0, 1.0], {}).scaled.tolist() == pytest.approx([1.0, 0.0, 0.5, 0.0])


def test_lexical_weight_rises_over_the_evidence_range() -> None:
    weights = FusionWeights(lexical=0.5, evidence_low=0.2, evidence_high=0.3)
    assert [weights.lexical_weight(e) for e in (0.0, 0.2, 0.25, 0.3, 0.9)] == pytest.approx([0, 0, 0.25, 0.5, 0.5])
    step = FusionWeights(lexical=0.4, evidence_low=0.3, evidence_high=0.3)
    assert (step.lexical_weight(0.29), step.lexical_weight(0.3)) == (0.0, 0.4)


def test_flat_lexical_evidence_leaves_the_dense_order_and_strong_evidence_fuses() -> None:
    dense = Ranking(np.array([1, 2, 3]), np.array([0.9, 0.7, 0.5]))
    lexical = Ranking(np.array([3, 4]), np.array([12.0, 4.0]))
    documents = {1: 0, 2: 1, 3: 2, 4: 3}
    weights = FusionWeights(lexical=0.5, evidence_low=0.2, evidence_high=0.3, document=0.0)
    flat = _evidence([10.0] * 14 + [9.5], documents)  # evidence 0.05: dense alone
    fused = evidence_fusion(dense, lexical, flat, weights)
    assert fused.ids.tolist() == [1, 2, 3, 4]
    assert fused.scores.tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])
    strong = _evidence([1.0, 0.0, 8.0, 2.0], documents)  # four matching documents: full evidence
    fused = evidence_fusion(dense, lexical, strong, weights)
    reference = min_max_fusion(dense, lexical, 0.5)  # without the document term: fixed min-max at weight 0.5
    assert fused.ids.tolist() == reference.ids.tolist()
    assert fused.scores.tolist() == pytest.approx(reference.scores.tolist())


def test_the_document_term_moves_whole_documents_and_keeps_the_order_within_one() -> None:
    dense = Ranking(np.array([1, 2, 3, 5]), np.array([0.9, 0.8, 0.5, 0.1]))
    lexical = Ranking(np.array([3, 5]), np.array([5.0, 1.0]))
    documents = {1: 0, 2: 1, 3: 1, 5: 1}  # chunks 2, 3 and 5 share document 1, which matches best as a whole
    evidence = _evidence([2.0, 6.0], documents)  # two matching documents: full evidence; scaled 0 and 1
    fused = evidence_fusion(dense, lexical, evidence, FusionWeights(0.5, 0.2, 0.3, document=0.6))
    # dense scaled: 1 -> 1, 2 -> 0.875, 3 -> 0.5, 5 -> 0; BM25 scaled: 3 -> 1, 5 -> 0
    passage = {1: 0.5 * 1, 2: 0.5 * 0.875, 3: 0.5 * 0.5 + 0.5 * 1, 5: 0.0}
    document = {0: 0.5 * 1 + 0.5 * 0, 1: 0.5 * 0.875 + 0.5 * 1}  # best dense of its candidates, whole-text BM25
    expected = {c: 0.6 * document[documents[c]] + 0.4 * passage[c] for c in passage}
    assert fused.ids.tolist() == [3, 2, 5, 1]
    assert fused.scores.tolist() == pytest.approx([expected[c] for c in (3, 2, 5, 1)])
    alone = evidence_fusion(dense, lexical, evidence, FusionWeights(0.5, 0.2, 0.3, document=0.0))
    within = [c for c in alone.ids.tolist() if documents[c] == 1]
    assert within == [c for c in fused.ids.tolist() if documents[c] == 1]  # the passages of one keep their order
