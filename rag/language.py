"""Whether a question or a document is written in a language the embedding model reads.

An English model cuts a Russian, Greek, Korean or Polish question into word pieces it never learnt to compose, so
its dense list for that question is close to noise, while BM25 still matches the question's words in the
documents. Hybrid fusion leans on BM25 for such a question (README: Questions in other languages), and chunking
sizes a document in such a language in words, not in the model's tokens. The language is py3langid's estimate;
the model's languages are its model card's ``language`` field, or a setting.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

FOREIGN_BELOW = 0.003
"""A question is in another language when py3langid gives the model's languages, together, less probability than
this. Measured (README): English questions and titles 0.011 and above, questions in other languages 0.0012 and
below (py3langid spreads a short English text over many Latin-script languages, so its top guess is no test)."""


@functools.cache
def _identifier():
    """py3langid's model with probabilities normalised over its languages (loaded once, about half a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def known_languages() -> frozenset[str]:
    """The language codes py3langid tells apart (ISO 639-1, or 639-3 where a language has no two-letter code)."""
    return frozenset(_identifier().nb_classes)


class LanguageCheck:
    """Tells whether a text is in one of ``languages`` (codes as py3langid names them)."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.languages = frozenset(languages)
        if not self.languages:
            raise ValueError("a language check needs at least one language")

    def reads(self, text: str) -> bool:
        """False only when the text (a question, or a sample of a document) is, with confidence, in none of the
        languages."""
        probabilities = _identifier().rank(text)
        return sum(p for code, p in probabilities if code in self.languages) >= FOREIGN_BELOW


def language_check(setting: str | None, model_path: str | Path) -> LanguageCheck | None:
    """The check for a model: the languages ``setting`` lists (comma-separated codes, checked by the settings;
    "any" for none), else those its model card (``README.md`` in the model folder) names. None when the model
    reads any language as far as is known: the card names none, says "multilingual", or names a language
    py3langid does not know."""
    if setting is not None:
        return None if setting == "any" else LanguageCheck(setting.split(","))
    codes = [code.lower().split("-")[0].split("_")[0] for code in _card_languages(Path(model_path) / "README.md")]
    if not codes or any(code not in known_languages() for code in codes):
        logger.debug("no language check for %s: its card names %s", model_path, codes or "no language")
        return None
    return LanguageCheck(codes)


def _card_languages(card: Path) -> list[str]:
    """The ``language`` field of a model card's metadata (a code or a list), empty when there is none."""
    if not card.is_file():
        return []
    import yaml
    from huggingface_hub.repocard import metadata_load

    try:
        languages = (metadata_load(card) or {}).get("language") or []
    except (OSError, ValueError, yaml.YAMLError) as exc:  # not UTF-8, or metadata that is not YAML
        logger.warning("model card %s unreadable (%s): no language check", card, exc)
        return []
    return [languages] if isinstance(languages, str) else [str(code) for code in languages]
