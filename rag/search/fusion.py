"""Fusion: one ranked list of chunk ids from the dense and the BM25 lists (hybrid retrieval).

Two methods, both standard: a weighted sum of min-max normalised scores (the default: it measured best on the
development set, see README) and reciprocal rank fusion (Cormack et al., 2009), which ignores scores altogether.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranking:
    """One query's candidates, best first: chunk ids and their scores (no padding)."""

    ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def from_row(cls, scores: np.ndarray, ids: np.ndarray) -> Ranking:
        """A row of an index search, without its ``-1`` padding."""
        keep = ids >= 0
        return cls(np.asarray(ids[keep], dtype=np.int64), np.asarray(scores[keep], dtype=np.float64))

    @classmethod
    def from_scores(cls, scored: dict[int, float]) -> Ranking:
        """Best score first, equal scores by the smaller id (so results are reproducible)."""
        ordered = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
        return cls(
            np.fromiter((i for i, _ in ordered), dtype=np.int64, count=len(ordered)),
            np.fromiter((s for _, s in ordered), dtype=np.float64, count=len(ordered)),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> Ranking:
        return Ranking(self.ids[:n], self.scores[:n])


def min_max_fusion(dense: Ranking, lexical: Ranking, dense_weight: float) -> Ranking:
    """``w * dense + (1 - w) * bm25``, each scaled to 0..1 over its own list; a chunk missing from a list gets 0
    from it. Scores become comparable across lists without knowing their distributions."""
    fused: dict[int, float] = {}
    for ranking, weight in ((dense, dense_weight), (lexical, 1.0 - dense_weight)):
        for chunk_id, value in zip(ranking.ids.tolist(), _scaled(ranking.scores), strict=True):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * value
    return Ranking.from_scores(fused)


def reciprocal_rank_fusion(rankings: Sequence[Ranking], k: int = 60) -> Ranking:
    """``sum(1 / (k + rank))`` over the lists a chunk appears in (ranks from 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking.ids.tolist(), start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (k + rank)
    return Ranking.from_scores(fused)


def _scaled(scores: np.ndarray) -> list[float]:
    if len(scores) == 0:
        return []
    low, high = float(scores.min()), float(scores.max())
    if high - low <= 1e-12:
        return [1.0] * len(scores)  # one candidate, or all equal: each is as good as the best
    return ((scores - low) / (high - low)).tolist()
