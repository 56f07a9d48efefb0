"""Retrieval quality with the real model: queries in German and Chinese, the three modes, and the seed question
targets of the default (hybrid) mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, write_bytes

from rag.batch import answer_questions, read_questions
from rag.errors import InvalidQueryError
from rag.eval.evaluation import answer_rank
from rag.index.build import build_index
from rag.index.reader import open_index
from rag.search.searcher import Searcher

pytestmark = [pytest.mark.slow, pytest.mark.model]

MULTILINGUAL = {
    "en.txt": "The harbour of Hamburg handles container ships from all over the world.",
    "de.txt": "Die Bäckerei am Marktplatz verkauft jeden Morgen frische Brezeln und Roggenbrot.",
    "de2.txt": "Der Zug nach München fährt stündlich vom Hauptbahnhof ab.",
    "zh.txt": "长城是中国古代的军事防御工程，全长两万多公里。",
    "zh2.txt": "熊猫主要生活在四川的竹林里，以竹子为食。",
}


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


RUSSIAN = {
    "museum.txt": "В краеведческом музее хранится коллекция старинных самоваров. Экскурсии для школьников проводятся "
    "по четвергам, вход для пенсионеров бесплатный.",
    "train.txt": "Ночной поезд из Москвы в Казань отправляется в двадцать три сорок и прибывает утром. В каждом купе "
    "четыре полки, чай разносят после отправления.",
    "library.txt": "Городская библиотека открыта со вторника по субботу. Читальный зал работает до восьми часов "
    "вечера, а абонемент закрывается в шесть.",
    "bakery.txt": "Для ржаного хлеба закваску готовят за три дня до выпечки. Тесто месят двадцать минут, затем "
    "оставляют подниматься в тёплом месте на два часа.",
    "garden.txt": "Помидоры высаживают в открытый грунт после окончания заморозков, обычно в конце мая. Рассаду "
    "поливают тёплой водой рано утром, а землю вокруг кустов рыхлят раз в неделю.",
    "clinic.txt": "Поликлиника принимает пациентов с восьми утра. Чтобы попасть к терапевту, нужно записаться через "
    "регистратуру или по телефону за день до приёма.",
}


def test_a_question_in_a_language_the_model_does_not_read_leans_on_bm25(tmp_path: Path, settings, embedder) -> None:
    """The English model ranks a train passage above the museum's answer to a Russian question; BM25 matches its
    words. The model card says English, so hybrid fusion leans on BM25 and the answer moves into the top 3. The
    index is built without the check, so that passages are sentences sized in the model's tokens and the answer is
    one of its own (with the check, the museum's text is one passage, the first either way)."""
    for name, text in RUSSIAN.items():
        write_bytes(tmp_path / "docs" / name, text.encode())
    by_tokens = settings.model_copy(update={"model_languages": "any"})
    report = build_index([tmp_path / "docs"], by_tokens, index_dir=tmp_path / "idx", embedder=embedder)
    question = "Кто может пройти в музей бесплатно?"
    for languages, in_top_3 in [(None, True), ("any", False)]:  # the card's "en", and no language check
        configured = settings.model_copy(update={"model_languages": languages})
        with Searcher(open_index(report.index_dir, configured), embedder, configured) as searcher:
            hits = searcher.search(question, 3)
        assert any("бесплатный" in hit.text for hit in hits) is in_top_3, (languages, [h.text for h in hits])
        assert hits[0].citation.source.endswith("museum.txt")


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


def test_hybrid_meets_the_seed_question_targets(seed_searcher) -> None:
    """Issue target: answer recall@1 of at least 13/15 and recall@3 of 15/15 with the default (hybrid) mode."""
    ranks = [
        answer_rank(a.hits, a.question.answers)
        for a in answer_questions(seed_searcher, read_questions(DEV_QUESTIONS), 3)
    ]
    assert sum(1 for r in ranks if r == 1) >= 13, ranks
    assert all(r is not None for r in ranks), ranks
