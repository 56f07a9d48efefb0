"""Fusion: one ranked list of chunk ids from the dense and the BM25 lists (hybrid retrieval).

The default, evidence-weighted fusion, gives BM25 a weight that follows its own evidence for the question: when
the best document by whole-document BM25 stands well above the 15th, the question's words single documents out
and BM25 is trusted as much as the dense list; when the top is flat, the words are spread over many documents and
the dense list decides. No fixed weight wins in every domain (README: SciFact wants 0.5, entity search wants pure
dense); this one holds on both. A document term then adds each passage's document score (its best dense passage
and its whole-text BM25), so a passage gains when its document as a whole matches.

Two fixed methods remain as settings: a weighted sum of min-max normalised scores, and reciprocal rank fusion
(Cormack et al., 2009), which ignores scores altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class FusionWeights:
    """The evidence-weighted fusion's settings: BM25's weight at full evidence, the evidence range over which its
    weight rises from 0 to that, and the weight of the passage's document score against its own."""

    lexical: float = 0.5
    evidence_low: float = 0.3
    evidence_high: float = 0.4
    document: float = 0.69

    def lexical_weight(self, evidence: float) -> float:
        """BM25's weight for a question whose lexical evidence is ``evidence`` (0..1)."""
        if self.evidence_high <= self.evidence_low:
            return self.lexical if evidence >= self.evidence_high else 0.0
        ramp = (evidence - self.evidence_low) / (self.evidence_high - self.evidence_low)
        return self.lexical * min(1.0, max(0.0, ramp))


EVIDENCE_RANK = 15
"""Lexical evidence compares the best document's BM25 score with this rank's (README: the 10th measured worse)."""


@dataclass(frozen=True)
class DocumentEvidence:
    """One question's whole-document BM25: how far its best document stands above the ``EVIDENCE_RANK``-th, and
    each document's score scaled to 0..1 over the best ``depth`` documents (0 below them)."""

    strength: float
    scaled: np.ndarray
    documents_of: Callable[[np.ndarray], np.ndarray]
    """Chunk ids to their document numbers (the positions in ``scaled``)."""

    @classmethod
    def from_scores(
        cls, scores: np.ndarray, documents_of: Callable[[np.ndarray], np.ndarray], depth: int
    ) -> DocumentEvidence:
        """``scores``: every document's BM25 score for the question. A question whose words occur in fewer
        documents than ``EVIDENCE_RANK`` has full evidence: its words single documents out."""
        positive = scores[scores > 0]
        if len(positive) == 0:
            return cls(0.0, np.zeros(len(scores)), documents_of)
        if len(positive) > depth:  # the best ``depth`` of a large index's scores, without sorting them all
            positive = np.partition(positive, len(positive) - depth)[len(positive) - depth :]
        best = np.sort(positive)[::-1]
        top, low = float(best[0]), float(best[-1])
        strength = (top - (float(best[EVIDENCE_RANK - 1]) if len(best) >= EVIDENCE_RANK else 0.0)) / top
        if top - low <= 1e-12:
            scaled = (scores >= low).astype(np.float64)
        else:
            scaled = np.where(scores >= low, (scores - low) / (top - low), 0.0)
        return cls(strength, scaled, documents_of)


def evidence_fusion(dense: Ranking, lexical: Ranking, evidence: DocumentEvidence, weights: FusionWeights) -> Ranking:
    """Each candidate passage scores ``d * document + (1 - d) * passage``, where

    - ``passage = (1 - w) * dense + w * bm25``, both min-max scaled over their lists (0 when absent from one),
    - ``document = (1 - w) * (best dense of the document's candidates) + w * (whole-document BM25, scaled)``,
    - ``w`` is BM25's weight for the question's lexical evidence and ``d`` the document weight.

    Passages of one document keep their passage order; the document term moves whole documents. Candidates are
    the two lists'."""
    lexical_weight = weights.lexical_weight(evidence.strength)
    ids = np.concatenate([dense.ids, lexical.ids])
    values = np.concatenate([(1.0 - lexical_weight) * _scaled(dense.scores), lexical_weight * _scaled(lexical.scores)])
    passages = _summed(ids, values)
    if not weights.document or len(passages) == 0:
        return passages
    order = np.argsort(passages.ids)
    dense_of = np.zeros(len(passages))  # each candidate's scaled dense score, 0 when only BM25 found it
    dense_of[order[np.searchsorted(passages.ids[order], dense.ids)]] = _scaled(dense.scores)
    documents, position = np.unique(evidence.documents_of(passages.ids), return_inverse=True)
    best_dense = np.zeros(len(documents))
    np.maximum.at(best_dense, position, dense_of)
    document = (1.0 - lexical_weight) * best_dense + lexical_weight * evidence.scaled[documents]
    share = weights.document
    return Ranking.ordered(passages.ids, share * document[position] + (1.0 - share) * passages.scores)


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
