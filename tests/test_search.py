"""Search on the seed corpus: the dev questions are answered, and every citation is exact."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from conftest import CITATION_FIELDS, DEV_QUESTIONS

from rag.batch import answer_questions, read_questions
from rag.errors import InvalidQueryError
from rag.eval.evaluation import answer_rank
from rag.search.searcher import display_source

pytestmark = pytest.mark.model


def assert_citation_contract(hit, encodings: dict[str, str]) -> None:
    """``text`` is exactly the cited span of the source file decoded with its recorded encoding."""
    cite = hit.citation
    decoded = Path(cite.source).read_bytes().decode(encodings[cite.doc_id])
    assert decoded[cite.start : cite.end] == hit.text
    assert cite.line_start == decoded.count("\n", 0, cite.start) + 1
    assert cite.line_end == decoded.count("\n", 0, cite.end) + 1
    assert 1 <= cite.line_start <= cite.line_end


def test_dev_questions_are_answered_in_the_top_3(seed_searcher) -> None:
    questions = read_questions(DEV_QUESTIONS)
    assert len(questions) == 15
    answered = list(answer_questions(seed_searcher, questions, 3))
    found = [a.question.id for a in answered if answer_rank(a.hits, a.question.answers) is not None]
    assert len(found) >= 14, f"answers found in the top 3 for only {found}"


def test_every_result_of_every_dev_question_satisfies_the_citation_contract(seed_searcher) -> None:
    encodings = {d.doc_id: d.encoding for d in seed_searcher.index.store.documents()}
    questions = read_questions(DEV_QUESTIONS)
    checked = 0
    for answered in answer_questions(seed_searcher, questions, 10):
        assert [h.rank for h in answered.hits] == list(range(1, 11))
        assert all(a.score >= b.score for a, b in pairwise(answered.hits))
        for hit in answered.hits:
            assert_citation_contract(hit, encodings)
            checked += 1
    assert checked == 150


def test_result_shape_and_metadata(seed_searcher) -> None:
    (hit, *_) = seed_searcher.search("In which city did the embassy hold the 2023 Victory Day event?", 3)
    record = hit.to_dict()
    assert set(record) == {"rank", "score", "text", "citation", "highlight"}
    assert set(record["highlight"]) == {"start", "end"}
    assert set(record["citation"]) == CITATION_FIELDS
    assert record["citation"]["page"] is None and record["citation"]["section"] is None  # plain text
    assert record["rank"] == 1 and 0 < record["score"] <= 1  # hybrid: a weighted sum of scores scaled to 0..1
    dated = {d.doc_id: d.date for d in seed_searcher.index.store.documents()}
    assert record["citation"]["date"] == dated[record["citation"]["doc_id"]]
    assert Path(record["citation"]["source"]).is_absolute()  # the test corpus lies outside the working directory


def test_display_source_is_relative_only_under_the_working_directory(tmp_path: Path) -> None:
    assert display_source(str(tmp_path / "a" / "b.txt"), cwd=tmp_path) == "a/b.txt"
    assert display_source(str(tmp_path / "a" / "b.txt"), cwd=tmp_path / "a" / "b") == str(tmp_path / "a" / "b.txt")
    assert display_source(str(tmp_path) + "-other/x.txt", cwd=tmp_path) == str(tmp_path) + "-other/x.txt"
    assert display_source(f"{tmp_path}/corpus.jsonl#42", cwd=tmp_path) == "corpus.jsonl#42"


def test_single_search_equals_batch_and_is_deterministic(seed_searcher) -> None:
    questions = ["Whose memory is honored on Victory Day?", "What explosive hazards were left?"]
    batch = seed_searcher.search_batch(questions, 5)
    assert seed_searcher.search(questions[0], 5) == batch[0]
    assert seed_searcher.search_batch(questions, 5) == batch


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_question_is_refused(seed_searcher, query: str) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        seed_searcher.search(query)


def test_bad_k_and_overlong_question_are_refused(seed_searcher) -> None:
    with pytest.raises(InvalidQueryError, match="between 1 and 100"):
        seed_searcher.search("victory", 0)
    with pytest.raises(InvalidQueryError, match="limit"):
        seed_searcher.search("victory " * 1000)
