"""Retrieval quality features: BM25 tokenisation (also German and Chinese), fusion arithmetic, modes, reranking
with a cross-encoder built here, de-duplication of overlapping passages, and the highlighted sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from conftest import DEV_QUESTIONS, write_bytes

from rag.batch import answer_questions, read_questions
from rag.errors import InvalidQueryError
from rag.eval.evaluation import answer_rank
from rag.index.build import build_index
from rag.index.lexical import LexicalIndex, LexicalTokenizer
from rag.index.reader import open_index
from rag.index.store import StoredChunk
from rag.search.fusion import Ranking, min_max_fusion, reciprocal_rank_fusion
from rag.search.searcher import Searcher, _without_overlaps

# --- BM25 ---------------------------------------------------------------------------------------------------


def test_tokenizer_stems_drops_stop_words_and_splits_cjk_into_bigrams() -> None:
    english = LexicalTokenizer("en")
    assert english("The restoration of the territories") == ["restor", "territori"]
    assert LexicalTokenizer("en", stem=False, stopwords=False)("The cats") == ["the", "cats"]
    german = LexicalTokenizer("de")
    assert german("Die Häuser der Stadt") == german("die häuser der stadt") == ["haus", "stadt"]
    assert LexicalTokenizer("en")("北京是中国的首都") == ["北京", "京是", "是中", "中国", "国的", "的首", "首都"]
    assert LexicalTokenizer("en")("COVID-19 in 2023: 北京") == ["covid", "19", "2023", "北京"]
    assert LexicalTokenizer("en")("中") == ["中"]


def test_lexical_index_ranks_filters_and_survives_a_round_trip(tmp_path: Path) -> None:
    texts = ["apples and pears", "apples apples apples", "only pears here", "nothing in common", "apples"]
    index = LexicalIndex.build([10, 20, 30, 40, 50], texts, LexicalTokenizer("en"))
    scores, ids = index.search(["apples"], 5)
    assert ids[0].tolist()[:3] == [20, 50, 10] and ids[0].tolist()[3:] == [-1, -1]  # no shared term: not returned
    assert scores[0][0] > scores[0][1] > scores[0][2] > 0 and scores[0][3] == 0
    _, only = index.search(["apples pears"], 5, allowed_ids=np.array([30, 40]))
    assert only[0].tolist() == [30, -1, -1, -1, -1]
    _, none = index.search(["the of and"], 3)  # only stop words
    assert none[0].tolist() == [-1, -1, -1]
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", LexicalTokenizer("en"))
    for query in ("apples", "pears", "apples pears"):
        assert [a.tolist() for a in loaded.search([query], 5)] == [a.tolist() for a in index.search([query], 5)]


def test_lexical_ties_are_ordered_by_chunk_id() -> None:
    index = LexicalIndex.build([7, 3, 5], ["same words", "same words", "same words"], LexicalTokenizer("en"))
    _, ids = index.search(["words"], 2)
    assert ids[0].tolist() == [3, 5]


MULTILINGUAL = {
    "en.txt": "The harbour of Hamburg handles container ships from all over the world.",
    "de.txt": "Die Bäckerei am Marktplatz verkauft jeden Morgen frische Brezeln und Roggenbrot.",
    "de2.txt": "Der Zug nach München fährt stündlich vom Hauptbahnhof ab.",
    "zh.txt": "长城是中国古代的军事防御工程，全长两万多公里。",
    "zh2.txt": "熊猫主要生活在四川的竹林里，以竹子为食。",
}


@pytest.mark.model
def test_queries_in_german_and_chinese_find_their_passages(tmp_path: Path, settings, embedder) -> None:
    for name, text in MULTILINGUAL.items():
        write_bytes(tmp_path / "docs" / name, text.encode())
    report = build_index([tmp_path / "docs"], settings, index_dir=tmp_path / "idx", embedder=embedder)
    with Searcher(open_index(report.index_dir, settings), embedder, settings) as searcher:
        for query, expected in [
            ("Wo verkauft die Bäckerei Brezeln?", "de.txt"),
            ("Wann fährt der Zug nach München?", "de2.txt"),
            ("长城有多长？", "zh.txt"),
            ("熊猫吃什么", "zh2.txt"),
        ]:
            for mode in ("bm25", "hybrid"):
                (top, *_) = searcher.search(query, 2, mode=mode)
                assert top.citation.source.endswith(expected), (query, mode, top.citation.source)
            bm25_scores, _ = searcher.index.lexical.search([query], 1)
            assert bm25_scores[0][0] > 0


# --- fusion -------------------------------------------------------------------------------------------------


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


# --- modes, de-duplication, highlight -------------------------------------------------------------------------


@pytest.mark.model
def test_modes_differ_and_bad_modes_are_refused(seed_searcher) -> None:
    question = "Whose member countries help restore Azerbaijan's liberated territories?"
    dense = seed_searcher.search(question, 5, mode="dense")
    bm25 = seed_searcher.search(question, 5, mode="bm25")
    hybrid = seed_searcher.search(question, 5)
    assert all(0 < h.score <= 1 for h in dense) and bm25[0].score > 1  # cosine vs BM25 scale
    assert all(0 <= h.score <= 1 for h in hybrid)
    assert [h.citation.start for h in dense] != [h.citation.start for h in bm25]
    with pytest.raises(InvalidQueryError, match="unknown retrieval mode 'fuzzy'"):
        seed_searcher.search(question, 5, mode="fuzzy")
    with pytest.raises(InvalidQueryError, match="RAG_RERANKER"):
        seed_searcher.search(question, 5, rerank=True)


def stored(chunk_id: int, doc_id: str, start: int, end: int) -> StoredChunk:
    return StoredChunk(chunk_id, doc_id, "x.txt", start, end, 1, 1, "t" * (end - start), None, None)


def test_overlapping_passages_of_a_document_are_dropped_for_the_better_one() -> None:
    chunks = {
        1: stored(1, "a", 0, 100),
        2: stored(2, "a", 80, 180),  # overlaps 1
        3: stored(3, "b", 0, 100),  # another document: kept
        4: stored(4, "a", 180, 260),  # touches 2 but 2 was dropped; no overlap with 1
        5: stored(5, "a", 90, 95),  # inside 1
    }
    ranking = Ranking(np.array([1, 2, 3, 5, 4]), np.array([0.9, 0.8, 0.7, 0.6, 0.5]))
    assert _without_overlaps(ranking, chunks, 10) == [(1, 0.9), (3, 0.7), (4, 0.5)]
    assert _without_overlaps(ranking, chunks, 2) == [(1, 0.9), (3, 0.7)]


@pytest.mark.model
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_no_sentence_is_shown_twice_and_highlights_keep_the_contract(seed_searcher, mode: str) -> None:
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


@pytest.mark.model
def test_hybrid_meets_the_seed_question_targets(seed_searcher) -> None:
    """Issue target: answer recall@1 of at least 13/15 and recall@3 of 15/15 with the default (hybrid) mode."""
    ranks = [
        answer_rank(a.hits, a.question.answers)
        for a in answer_questions(seed_searcher, read_questions(DEV_QUESTIONS), 3)
    ]
    assert sum(1 for r in ranks if r == 1) >= 13, ranks
    assert all(r is not None for r in ranks), ranks


# --- reranking ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (if untrained) cross-encoder: the MiniLM encoder under a fresh one-logit head, saved to disk."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag.embedding import resolve_model_path
    from rag.settings import DEFAULT_MODEL

    base = resolve_model_path(DEFAULT_MODEL)
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(base, config=BertConfig.from_pretrained(base, num_labels=1))
    path = tmp_path_factory.mktemp("models") / "tiny-cross-encoder"
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(base).save_pretrained(path)
    return path


@pytest.mark.model
def test_reranking_orders_candidates_by_the_cross_encoder(seed_index, settings, embedder, tiny_cross_encoder) -> None:
    from sentence_transformers import CrossEncoder

    from rag.search.rerank import Reranker

    configured = settings.model_copy(update={"reranker": str(tiny_cross_encoder), "rerank_depth": 12})
    reranker = Reranker(str(tiny_cross_encoder))
    question = "What explosive hazards were left?"
    with Searcher(open_index(seed_index.index_dir, configured), embedder, configured, reranker) as searcher:
        plain = searcher.search(question, 5, rerank=False)
        reranked = searcher.search(question, 5)  # a configured reranker is used by default
        documents = searcher.rank_documents([question], 5)[0]
    independent = CrossEncoder(str(tiny_cross_encoder)).predict([(question, h.text) for h in reranked])
    assert [h.score for h in reranked] == pytest.approx(independent.tolist(), abs=1e-5)
    assert all(a.score >= b.score for a, b in pairwise(reranked))
    assert [h.citation.start for h in reranked] != [h.citation.start for h in plain]
    assert len(documents) == 5 and len({d for d, _ in documents}) == 5  # every seed document, reranked head first


@pytest.mark.model
def test_rag_eval_compares_every_variant_in_one_run(tmp_path: Path, tiny_cross_encoder) -> None:
    from test_evaluation import make_beir_folder

    folder = make_beir_folder(tmp_path / "tiny")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_RERANKER": str(tiny_cross_encoder)}
    args = ["eval", str(folder), "--index", str(tmp_path / "vectors"), "-k", "5", "--mode", "all"]
    table = subprocess.run(
        [sys.executable, "-m", "rag", *args, "--run-out", "run.trec"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    rows = [line.split()[0] for line in table.stdout.splitlines() if line.split()[:1]]
    assert {"dense", "bm25", "hybrid", "hybrid+rerank"} <= set(rows)
    assert "hybrid vs dense: nDCG@10" in table.stdout and "paired t-test p =" in table.stdout
    for variant in ("dense", "hybrid", "hybrid+rerank"):
        assert (tmp_path / f"run.{variant}.trec").read_text().count(" Q0 ") == 4 * 5
    # BM25 returns only documents that share a term with the query: here, the one relevant document each.
    assert (tmp_path / "run.bm25.trec").read_text().count(" Q0 ") == 4
    printed = subprocess.run(
        [sys.executable, "-m", "rag", *args[:-1], "dense,bm25", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    reports = json.loads(printed.stdout)
    assert [r["settings"]["mode"] for r in reports] == ["dense", "bm25"]
    assert reports[1]["measures"]["MRR@10"] == pytest.approx(1.0)  # the queries share words with their documents
