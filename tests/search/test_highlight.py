"""The answering sentence: the sentence with the closest vector (oracle), the highlight contract on every result
(stand-in model) and, with the real model, the highlight holding the answer to the seed questions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DEV_QUESTIONS

from rag.batch import answer_questions, read_questions
from rag.search.highlight import best_sentence
from rag.types import SentenceVectors, Span


@pytest.mark.parametrize("seed", range(5))
def test_best_sentence_is_the_closest_vector(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((7, 16)).astype(np.float32)
    query = rng.standard_normal(16).astype(np.float32)
    spans = [(10 * i, 10 * i + 8) for i in range(7)]
    closest = max(range(7), key=lambda i: float(np.dot(vectors[i].astype(np.float64), query)))
    span, similarity = best_sentence(query, SentenceVectors(spans, vectors))
    assert span == Span(*spans[closest])
    assert similarity == pytest.approx(float(vectors[closest] @ query), abs=1e-6)


def test_equally_close_sentences_go_to_the_first() -> None:
    vectors = np.array([[0, 1], [1, 0], [1, 0]], dtype=np.float32)
    assert best_sentence(np.array([1, 0]), SentenceVectors([(0, 5), (6, 9), (10, 20)], vectors))[0] == Span(6, 9)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_no_sentence_is_shown_twice_and_highlights_keep_the_contract(standin_searcher, mode: str) -> None:
    seed_searcher = standin_searcher
    encodings = {d.doc_id: d.encoding for d in seed_searcher.index.store.documents()}
    for answered in answer_questions(seed_searcher, read_questions(DEV_QUESTIONS), 20, mode=mode):
        spans: dict[str, list[tuple[int, int]]] = {}
        for hit in answered.hits:
            cite, mark = hit.citation, hit.highlight
            assert all(cite.end <= s or e <= cite.start for s, e in spans.get(cite.doc_id, []))
            spans.setdefault(cite.doc_id, []).append((cite.start, cite.end))
            text = Path(cite.source).read_bytes().decode(encodings[cite.doc_id])
            assert cite.start <= mark.start < mark.end <= cite.end
            sentence = text[mark.start : mark.end]
            assert sentence == hit.text[mark.start - cite.start : mark.end - cite.start]
            assert sentence == sentence.strip()


@pytest.mark.slow
@pytest.mark.model
def test_the_highlighted_sentence_holds_the_answer(seed_searcher) -> None:
    questions = read_questions(DEV_QUESTIONS)
    held = 0
    for answered in answer_questions(seed_searcher, questions, 3):
        hit = next(h for h in answered.hits if any(a in h.text for a in answered.question.answers))
        offset = hit.citation.start
        sentence = hit.text[hit.highlight.start - offset : hit.highlight.end - offset]
        held += any(a in sentence for a in answered.question.answers)
    assert held >= 13, f"the answer is in the highlighted sentence for {held} of {len(questions)} questions"
