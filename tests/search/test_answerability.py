"""Knowing when nothing answers: the relevance scale and the verdict (by hand), then with the real model the
verdict on the seed dev questions and the off-topic questions over the same corpus, the CLI, and the evaluation
that scores it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS

from rag.batch import read_questions
from rag.eval.evaluation import evaluate_questions
from rag.search.answerability import VERDICT_PASSAGES, answerable, relevance
from rag.types import Citation, Hit

OFFTOPIC_QUESTIONS = Path(__file__).resolve().parents[1] / "data" / "seeds_offtopic_dev.jsonl"


def _hit(rank: int, relevance_: float | None) -> Hit:
    citation = Citation("a.txt", 0, 1, 1, 1, None, "a")
    return Hit(rank=rank, score=1.0, text="x", citation=citation, relevance=relevance_)


def test_relevance_is_one_half_at_the_threshold_and_rises_with_similarity() -> None:
    assert relevance(0.35, 0.35) == 0.5
    values = [relevance(s, 0.35) for s in (-0.2, 0.1, 0.3, 0.35, 0.4, 0.6, 0.9)]
    assert values == sorted(values) and values[0] < 0.001 and values[-1] > 0.999
    assert relevance(0.40, 0.35) == pytest.approx(1 / (1 + 2.718281828**-1), abs=1e-4)  # one spread above


def test_the_verdict_reads_the_first_passages_only() -> None:
    assert answerable([]) is False
    assert answerable([_hit(1, None), _hit(2, None)]) is None
    assert answerable([_hit(1, 0.2), _hit(2, 0.51)]) is True
    assert answerable([_hit(1, 0.2), _hit(2, 0.49)]) is False
    late = [_hit(r, 0.1) for r in range(1, VERDICT_PASSAGES + 1)] + [_hit(VERDICT_PASSAGES + 1, 0.9)]
    assert answerable(late) is False


@pytest.mark.slow
@pytest.mark.model
def test_the_verdict_is_right_for_at_least_27_of_30_seed_questions(seed_searcher) -> None:
    answerable_questions = read_questions(DEV_QUESTIONS)
    offtopic = read_questions(OFFTOPIC_QUESTIONS)
    assert all(q.unanswerable for q in offtopic) and not any(q.unanswerable for q in answerable_questions)
    results = seed_searcher.search_batch([q.question for q in [*answerable_questions, *offtopic]], 5)
    verdicts = [answerable(hits) for hits in results]
    on_topic, off_topic = verdicts[: len(answerable_questions)], verdicts[len(answerable_questions) :]
    assert on_topic == [True] * len(on_topic), "an answerable dev question was flagged unanswerable"
    right = sum(on_topic) + sum(v is False for v in off_topic)
    assert right >= 27, f"verdict right for {right} of 30"
    chocolate = results[len(answerable_questions)]
    assert "chocolate" in offtopic[0].question and max(h.relevance for h in chocolate) < 0.1


@pytest.mark.slow
@pytest.mark.model
def test_evaluation_scores_the_verdict_when_a_set_has_unanswerable_questions(seed_searcher) -> None:
    questions = [*read_questions(DEV_QUESTIONS), *read_questions(OFFTOPIC_QUESTIONS)]
    report = evaluate_questions(questions, seed_searcher, name="seeds+offtopic", k=5)
    per_query = report.per_query
    assert len(per_query) == 30
    results = seed_searcher.search_batch([q.question for q in questions], 5)
    expected = [answerable(hits) != q.unanswerable for q, hits in zip(questions, results, strict=True)]
    assert report.measures["verdict_accuracy"] == pytest.approx(sum(expected) / 30)
    assert report.measures["verdict_answerable_recall"] == 1.0
    assert report.measures["verdict_unanswerable_recall"] == pytest.approx(sum(expected[15:]) / 15)
    # answer recall still counts the answerable questions only
    assert all("answer_rank" not in per_query[q.id] for q in questions[15:])
    assert report.measures["answer_recall@5"] == pytest.approx(
        sum(per_query[q.id]["answer_rank"] > 0 for q in questions[:15]) / 15
    )
    without = evaluate_questions(questions[:15], seed_searcher, name="seeds", k=5)
    assert "verdict_accuracy" not in without.measures
    assert without.measures["answer_recall@5"] == report.measures["answer_recall@5"]
