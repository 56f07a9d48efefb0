"""Questions in a language the model does not read: told apart, the model's languages read from its card or the
settings, and hybrid fusion leaning on BM25 for them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rag.embedding import resolve_model_path
from rag.language import LanguageCheck, language_check
from rag.search.fusion import FusionWeights, evidence_fusion, min_max_fusion
from rag.search.retriever import Retriever
from rag.settings import DEFAULT_MODEL, Settings

ENGLISH = [
    "When does the night train leave?",
    "Who may visit the museum for free?",
    "Thiopurine metabolites inhibit HDAC4 dephosphorylation in vivo.",  # jargon cut into many word pieces
    "guitar chord tuning",
    "MICAL redox enzymes",
]
OTHER = {
    "ru": "Кто может пройти в музей бесплатно?",
    "el": "Πότε φεύγει το νυχτερινό τρένο για τη Θεσσαλονίκη;",
    "ko": "야간 열차는 몇 시에 출발하나요?",
    "pl": "Ile kosztuje bilet do muzeum dla emerytów?",
    "de": "Wann fährt der Nachtzug nach Hamburg ab?",
    "fr": "Combien coûte l'entrée du musée pour les retraités ?",
    "zh": "夜间列车几点出发？",
}


def test_questions_in_other_languages_are_told_from_english_ones() -> None:
    english = LanguageCheck(["en"])
    assert [q for q in ENGLISH if not english.reads(q)] == []
    assert [lang for lang, q in OTHER.items() if english.reads(q)] == []


def test_a_check_of_several_languages_reads_each_of_them() -> None:
    check = LanguageCheck(["en", "ru", "de"])
    assert check.reads(OTHER["ru"]) and check.reads(OTHER["de"]) and check.reads(ENGLISH[0])
    assert not check.reads(OTHER["ko"])


def card(folder: Path, metadata: str) -> Path:
    folder.mkdir()
    (folder / "README.md").write_text(f"---\n{metadata}\n---\n\n# A model\n", encoding="utf-8")
    return folder


def test_the_model_card_names_the_languages_the_model_reads(tmp_path: Path, caplog) -> None:
    default = language_check(None, resolve_model_path(DEFAULT_MODEL))  # all-MiniLM-L6-v2's card: "language: en"
    assert default is not None and default.languages == {"en"}
    german = language_check(None, card(tmp_path / "de", "language:\n- en\n- de-DE"))
    assert german is not None and german.languages == {"en", "de"}
    assert language_check(None, card(tmp_path / "many", "language:\n- multilingual\n- en\n- ru")) is None
    assert language_check(None, card(tmp_path / "none", "license: mit")) is None
    assert language_check(None, tmp_path / "no-card") is None
    with caplog.at_level(logging.WARNING):
        assert language_check(None, card(tmp_path / "broken", "language: [en")) is None
    assert "unreadable" in caplog.text


def test_the_setting_overrides_the_card_and_is_checked() -> None:
    settings = Settings(model_languages=" EN, Ru ")
    assert settings.model_languages == "en,ru"
    check = language_check(settings.model_languages, resolve_model_path(DEFAULT_MODEL))
    assert check is not None and check.languages == {"en", "ru"}
    assert language_check(Settings(model_languages="any").model_languages, resolve_model_path(DEFAULT_MODEL)) is None
    with pytest.raises(ValidationError, match="not language codes"):
        Settings(model_languages="en,klingon")


@pytest.mark.parametrize("fusion", ["evidence", "minmax"])
def test_hybrid_fusion_leans_on_bm25_for_a_question_in_another_language(
    standin_searcher, standin_settings: Settings, fusion: str
) -> None:
    settings = standin_settings.model_copy(update={"model_languages": "en", "fusion": fusion})
    retriever = Retriever(standin_searcher.index, standin_searcher.embedder, settings)
    english, russian = "What did the company announce?", OTHER["ru"]
    assert retriever.fusion_weights(english).lexical == pytest.approx(1.0 - settings.fusion_dense_weight)
    assert retriever.fusion_weights(russian).lexical == settings.fusion_foreign_lexical_weight == 0.8

    depth = retriever.depth(10, "hybrid")
    vectors = retriever.embedder.embed_queries([english, russian])
    fused = retriever.rank([english, russian], vectors, "hybrid", depth, None)
    dense = retriever.rank([english, russian], vectors, "dense", depth, None)
    lexical = retriever.rank([english, russian], vectors, "bm25", depth, None)
    mask = retriever.index.documents.mask(None)
    for i, (query, lexical_weight) in enumerate([(english, 0.5), (russian, 0.8)]):
        weights = FusionWeights(
            lexical_weight, settings.fusion_evidence_low, settings.fusion_evidence_high, settings.fusion_document_weight
        )
        if fusion == "evidence":
            expected = evidence_fusion(dense[i], lexical[i], retriever.document_evidence(query, depth, mask), weights)
        else:
            expected = min_max_fusion(dense[i], lexical[i], 1.0 - lexical_weight)
        assert np.array_equal(fused[i].ids, expected.ids) and np.allclose(fused[i].scores, expected.scores)
