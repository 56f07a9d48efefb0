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
        ids = np.fromiter(scored.keys(), dtype=np.int64, count=len(scored))
        return cls.ordered(ids, np.fromiter(scored.values(), dtype=np.float64, count=len(scored)))

    @classmethod
    def ordered(cls, ids: np.ndarray, scores: np.ndarray) -> Ranking:
        """``ids`` (distinct) by ``scores``, best first, equal scores by the smaller id."""
        order = np.lexsort((ids, -scores))
        return cls(ids[order], scores[order])

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> Ranking:
        return Ranking(self.ids[:n], self.scores[:n])


def min_max_fusion(dense: Ranking, lexical: Ranking, dense_weight: float) -> Ranking:
    """``w * dense + (1 - w) * bm25``, each scaled to 0..1 over its own list; a chunk missing from a list gets 0
    from it. Scores become comparable across lists without knowing their distributions."""
    weighted = [dense_weight * _scaled(dense.scores), (1.0 - dense_weight) * _scaled(lexical.scores)]
    return _summed(np.concatenate([dense.ids, lexical.ids]), np.concatenate(weighted))


def reciprocal_rank_fusion(rankings: Sequence[Ranking], k: int = 60) -> Ranking:
    """``sum(1 / (k + rank))`` over the lists a chunk appears in (ranks from 1)."""
    ids = [r.ids for r in rankings]
    contributions = [1.0 / (k + np.arange(1, len(r) + 1, dtype=np.float64)) for r in rankings]
    return _summed(np.concatenate(ids or [np.zeros(0, np.int64)]), np.concatenate(contributions or [np.zeros(0)]))


def _summed(ids: np.ndarray, values: np.ndarray) -> Ranking:
    """Values summed per id (in list order, as a running sum would), then ordered."""
    distinct, position = np.unique(ids, return_inverse=True)
    return Ranking.ordered(distinct, np.bincount(position, weights=values, minlength=len(distinct)))


def _scaled(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return np.zeros(0, dtype=np.float64)
    low, high = float(scores.min()), float(scores.max())
    if high - low <= 1e-12:
        return np.ones(len(scores), dtype=np.float64)  # one candidate, or all equal: each is as good as the best
    return (scores - low) / (high - low)
