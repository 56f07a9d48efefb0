"""BM25 beside the vectors: our tokenizer (Snowball stems, stop words, CJK bigrams) and the bm25s index over chunk
ids (ranking, filtering, ties by id, a round trip through disk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.index.lexical import DocumentLexicalIndex, LexicalIndex, LexicalTokenizer


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


def test_words_of_a_script_with_one_language_are_stemmed_for_it_whatever_the_setting() -> None:
    english = LexicalTokenizer("en")
    assert english("πίνει αφηγητής") == english("πίνω αφηγητή") == ["πιν", "αφηγητ"]
    assert english("остеопорозом") == english("остеопороза") == ["остеопороз"]
    assert english("The files") == ["file"]  # Latin words keep the configured language's stemmer
    assert LexicalTokenizer("en", stem=False)("πίνει files") == ["πίνει", "files"]


def test_document_bm25_scores_whole_documents_and_maps_passages_to_them(tmp_path: Path) -> None:
    # document 0 says "comet" in both its passages, document 1 once; document 2 never
    texts = ["a comet passed. the comet returned.", "one comet, seen once, among many other words here", "moons"]
    chunk_documents = {11: 0, 12: 0, 20: 1, 30: 2}
    index = DocumentLexicalIndex.build(texts, chunk_documents, LexicalTokenizer("en"), k1=0.9, b=0.4)
    assert index.documents_of(np.array([30, 11, 20, 12])).tolist() == [2, 0, 1, 0]
    scores = index.scores("comet")
    assert scores[0] > scores[1] > 0 and scores[2] == 0
    # a filter keeps only the documents of the allowed passages
    mask = index.mask(np.array([20, 30]))
    assert mask.tolist() == [0.0, 1.0, 1.0] and index.mask(None) is None
    assert index.scores("comet", mask).tolist() == [0.0, pytest.approx(scores[1]), 0.0]
    index.save(tmp_path / "documents")
    loaded = DocumentLexicalIndex.load(tmp_path / "documents", LexicalTokenizer("en"))
    assert loaded.scores("comet").tolist() == scores.tolist()
    assert loaded.documents_of(np.array([12, 20])).tolist() == [0, 1]
