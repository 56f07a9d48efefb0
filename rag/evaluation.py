"""Evaluation of question sets: does a top-k passage contain an expected answer, and come from an expected source?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from rag.batch import Answered
from rag.search import Hit


def answer_rank(hits: Sequence[Hit], answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage that contains one of ``answers`` verbatim, or None."""
    for hit in hits:
        if any(answer in hit.text for answer in answers):
            return hit.rank
    return None


def source_rank(hits: Sequence[Hit], sources: Sequence[str]) -> int | None:
    """1-based rank of the first passage whose file name is one of ``sources``, or None."""
    names = {PurePath(s).name for s in sources}
    for hit in hits:
        if PurePath(hit.citation.source.split("#", 1)[0]).name in names:
            return hit.rank
    return None


@dataclass(frozen=True)
class QuestionSetScores:
    """Answer recall@k, source recall@k and answer MRR over a question set, plus per-question answer ranks."""

    questions: int
    answer_recall: dict[int, float]
    source_recall: dict[int, float]
    answer_mrr: float
    answer_ranks: dict[str, int | None]


def score_question_set(answered: Sequence[Answered], ks: Sequence[int] = (1, 3, 5, 10)) -> QuestionSetScores:
    """Score answered questions that carry ``answers`` (and optionally ``sources``)."""
    answer_ranks = {a.question.id: answer_rank(a.hits, a.question.answers) for a in answered}
    source_ranks = [source_rank(a.hits, a.question.sources) for a in answered if a.question.sources]
    n = max(len(answered), 1)

    def recall(ranks: Sequence[int | None], k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / max(len(ranks), 1)

    return QuestionSetScores(
        questions=len(answered),
        answer_recall={k: recall(list(answer_ranks.values()), k) for k in ks},
        source_recall={k: recall(source_ranks, k) for k in ks},
        answer_mrr=sum(1 / r for r in answer_ranks.values() if r is not None) / n,
        answer_ranks=answer_ranks,
    )
