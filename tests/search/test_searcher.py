"""Search on the seed corpus: the dev questions are answered (real model), and every citation is exact (stand-in
model: a citation's offsets do not depend on what the model knows)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from conftest import CITATION_FIELDS, DEV_QUESTIONS, seed_index_on

from rag.batch import answer_questions, read_questions
from rag.errors import InvalidQueryError
from rag.eval.evaluation import answer_rank
from rag.index.store import StoredChunk
from rag.search.fusion import Ranking
from rag.search.searcher import _joined_overlaps


def assert_citation_contract(hit, encodings: dict[str, str]) -> None:
    """``text`` is exactly the cited span of the source file decoded with its recorded encoding."""
    cite = hit.citation
    decoded = Path(cite.source).read_bytes().decode(encodings[cite.doc_id])
    assert decoded[cite.start : cite.end] == hit.text
    assert cite.line_start == decoded.count("\n", 0, cite.start) + 1
    assert cite.line_end == decoded.count("\n", 0, cite.end) + 1
    assert 1 <= cite.line_start <= cite.line_end


@pytest.mark.slow
@pytest.mark.model
def test_dev_questions_are_answered_in_the_top_3(seed_searcher) -> None:
    questions = read_questions(DEV_QUESTIONS)
    assert len(questions) == 15
    answered = list(answer_questions(seed_searcher, questions, 3))
    found = [a.question.id for a in answered if answer_rank(a.hits, a.question.answers) is not None]
    assert len(found) >= 14, f"answers found in the top 3 for only {found}"


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("store", ["milvus-lite", "milvus"])
def test_dev_questions_get_the_same_passages_on_milvus_as_on_faiss(seed_searcher, settings, embedder, store, request):
    questions = read_questions(DEV_QUESTIONS)
    with seed_index_on(store, request, settings, embedder) as on_milvus:
        for mode in ("dense", "hybrid"):
            for question in questions:
                got = on_milvus.search(question.question, 5, mode=mode)
                want = seed_searcher.search(question.question, 5, mode=mode)
                assert [(Path(h.citation.source).name, h.citation.start, h.citation.end) for h in got] == [
                    (Path(h.citation.source).name, h.citation.start, h.citation.end) for h in want
                ], (mode, question.question)
                assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)


def test_every_result_of_every_dev_question_satisfies_the_citation_contract(standin_store_searcher) -> None:
    """On every vector store."""
    seed_searcher = standin_store_searcher
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


def test_result_shape_and_metadata(standin_searcher) -> None:
    seed_searcher = standin_searcher
    (hit, *_) = seed_searcher.search("In which city did the embassy hold the 2023 Victory Day event?", 3)
    record = hit.to_dict()
    assert set(record) == {"rank", "score", "text", "citation", "highlight", "relevance"}
    assert 0 <= record["relevance"] <= 1
    assert set(record["highlight"]) == {"start", "end"}
    assert set(record["citation"]) == CITATION_FIELDS
    assert record["citation"]["page"] is None and record["citation"]["section"] is None  # plain text
    assert record["rank"] == 1 and 0 < record["score"] <= 1  # hybrid: a weighted sum of scores scaled to 0..1
    dated = {d.doc_id: d.date for d in seed_searcher.index.store.documents()}
    assert record["citation"]["date"] == dated[record["citation"]["doc_id"]]
    assert Path(record["citation"]["source"]).is_absolute()  # the test corpus lies outside the working directory


def test_single_search_equals_batch_and_is_deterministic(standin_searcher) -> None:
    seed_searcher = standin_searcher
    questions = ["Whose memory is honored on Victory Day?", "What explosive hazards were left?"]
    batch = seed_searcher.search_batch(questions, 5)
    assert seed_searcher.search(questions[0], 5) == batch[0]
    assert seed_searcher.search_batch(questions, 5) == batch


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_question_is_refused(standin_searcher, query: str) -> None:
    seed_searcher = standin_searcher
    with pytest.raises(InvalidQueryError, match="empty"):
        seed_searcher.search(query)


def test_bad_k_and_overlong_question_are_refused(standin_searcher) -> None:
    seed_searcher = standin_searcher
    with pytest.raises(InvalidQueryError, match="between 1 and 100"):
        seed_searcher.search("victory", 0)
    with pytest.raises(InvalidQueryError, match="limit"):
        seed_searcher.search("victory " * 1000)


TEXT = "".join(f"Sentence number {n:03d} of the document. " for n in range(20))


def stored(chunk_id: int, doc_id: str, start: int, end: int) -> StoredChunk:
    line = 1 + start // 100
    return StoredChunk(chunk_id, doc_id, "x.txt", start, end, line, 1 + end // 100, TEXT[start:end], None, None)


def test_a_passage_overlapping_a_better_one_of_its_document_is_joined_to_it() -> None:
    chunks = {
        1: stored(1, "a", 100, 200),
        2: stored(2, "a", 180, 300),  # overlaps 1: joined to it (the answer may lie past 1's end)
        3: stored(3, "b", 0, 100),  # another document: its own passage
        5: stored(5, "a", 150, 160),  # inside the joined passage: nothing new
        4: stored(4, "a", 300, 380),  # touches the joined passage without overlapping: its own passage
        6: stored(6, "a", 60, 120),  # overlaps a passage that already joins two chunks: skipped
    }
    ranking = Ranking(np.array([1, 2, 3, 5, 6, 4]), np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.5]))
    passages = _joined_overlaps(ranking, chunks, 10)
    assert [(p.ids, p.score) for p in passages] == [((1, 2), 0.9), ((3,), 0.7), ((4,), 0.5)]
    joined = passages[0].chunk
    assert (joined.chunk_id, joined.start, joined.end, joined.text) == (1, 100, 300, TEXT[100:300])
    assert (joined.line_start, joined.line_end) == (2, 4)
    assert [p.ids for p in _joined_overlaps(ranking, chunks, 2)] == [(1, 2), (3,)]
    earlier = Ranking(np.array([2, 1]), np.array([0.9, 0.8]))  # the better chunk comes later in the text
    [passage] = _joined_overlaps(earlier, chunks, 10)
    assert (passage.chunk.chunk_id, passage.chunk.start, passage.chunk.end) == (2, 100, 300)
    assert passage.chunk.text == TEXT[100:300]
