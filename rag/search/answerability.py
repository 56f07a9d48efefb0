"""Knowing when nothing answers: each passage's relevance, and whether any passage returned seems to answer.

A passage's relevance comes from the similarity of its best sentence to the question (cosine of the sentence
vectors stored at index time, so it costs a dot product). The scale is set so that 0.5 falls on
``answer_threshold``, measured on questions that the seed corpus answers and questions it does not (README,
"Knowing when nothing answers"): off-topic questions stay far below it, the nearest misses (a question about a
topic the corpus covers, asking what it does not say) sit around it. It tells an off-topic question from an
on-topic one; it cannot tell whether a passage on the right topic supports a claim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rag.types import Hit

VERDICT_PASSAGES = 5
"""The verdict looks at the first passages only (the default ``top_k``), so it does not change with ``k``."""

RELEVANCE_SPREAD = 0.05
"""Cosine distance from the threshold over which relevance goes from 0.27 to 0.73 (one logistic unit)."""


def relevance(similarity: float, threshold: float) -> float:
    """How likely a passage answers, 0..1, from its best sentence's similarity to the question; 0.5 at
    ``threshold``."""
    return round(1.0 / (1.0 + math.exp(-(similarity - threshold) / RELEVANCE_SPREAD)), 4)


def best_relevance(hits: Sequence[Hit]) -> float | None:
    """The highest relevance among the first ``VERDICT_PASSAGES`` passages, None when none has one."""
    return max((hit.relevance for hit in hits[:VERDICT_PASSAGES] if hit.relevance is not None), default=None)


def answerable(hits: Sequence[Hit]) -> bool | None:
    """Whether one of the first ``VERDICT_PASSAGES`` passages returned seems to answer the question (relevance at
    least 0.5); None when no passage has a relevance, False when nothing was returned."""
    best = best_relevance(hits)
    if best is None:
        return None if hits else False
    return best >= 0.5
