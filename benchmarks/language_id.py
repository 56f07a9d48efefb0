"""Which language identifier tells a question in another language from an English one, for the check that makes
hybrid search lean on BM25 when the model does not read the question (``rag/language.py``).

Usage: python benchmarks/language_id.py [--shared ../shared]

English texts: SciFact's claims and first 2,000 titles, dbpedia-mini's queries (``--shared``/beir), the seed
questions (``tests/data``), and the real-documents questions labelled English. Texts in other languages: the
real-documents questions labelled otherwise. The labels (``benchmarks/realdocs/question_languages.json``) were
written by reading each question. For each identifier installed (py3langid, which rag uses; lingua and
langdetect when present), the probability it gives English: its highest over the other languages and its lowest
over the English texts (the rule needs a gap between the two), how many English texts fall under 0.01 and under
rag's threshold, and the time per text.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

from rag.language import FOREIGN_BELOW

ROOT = Path(__file__).resolve().parent.parent
REALDOCS = ROOT / "benchmarks" / "realdocs"


def lines(path: Path, field: str, limit: int | None = None) -> list[str]:
    with path.open(encoding="utf-8") as rows:
        return [text for row in itertools.islice(rows, limit) if (text := json.loads(row).get(field))]


def texts(shared: Path) -> tuple[list[str], list[str]]:
    """The English texts and the texts in other languages."""
    beir = shared / "beir"
    english = lines(beir / "scifact-train" / "queries.jsonl", "text")
    english += lines(beir / "scifact-train" / "corpus.jsonl", "title", 2000)
    english += lines(beir / "dbpedia-mini" / "queries.jsonl", "text")
    for name in ("seeds_dev.jsonl", "seeds_offtopic_dev.jsonl"):
        english += lines(ROOT / "tests" / "data" / name, "question")
    labels = json.loads((REALDOCS / "question_languages.json").read_text(encoding="utf-8"))
    other = []
    for path in (shared / "realdocs-dev" / "questions.jsonl", REALDOCS / "questions.jsonl"):
        for row in path.read_text(encoding="utf-8").splitlines():
            question = json.loads(row)
            (english if labels[question["id"]] == "en" else other).append(question["question"])
    return english, other


def py3langid_english() -> Callable[[str], float]:
    from rag.language import _identifier

    identifier = _identifier()
    return lambda text: dict(identifier.rank(text)).get("en", 0.0)


def lingua_english() -> Callable[[str], float]:
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()
    return lambda text: detector.compute_language_confidence(text, Language.ENGLISH)


def langdetect_english() -> Callable[[str], float]:
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    langdetect.DetectorFactory.seed = 0  # its sampling is random otherwise

    def english(text: str) -> float:
        try:
            return next((guess.prob for guess in langdetect.detect_langs(text) if guess.lang == "en"), 0.0)
        except LangDetectException:  # no letters
            return 0.0

    return english


IDENTIFIERS = {"py3langid": py3langid_english, "lingua": lingua_english, "langdetect": langdetect_english}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    english, other = texts(args.shared)
    print(f"{len(english)} English texts, {len(other)} in other languages; rag's threshold {FOREIGN_BELOW}\n")
    print(f"{'identifier':12s} {'other: max':>10s} {'en: min':>8s} {'en < 0.01':>9s} {'en < rule':>9s} {'ms/text':>8s}")
    for name, make in IDENTIFIERS.items():
        if importlib.util.find_spec(name) is None:
            print(f"{name:12s} not installed")
            continue
        english_of = make()
        english_of("warm up")
        start = time.perf_counter()
        on_other = [english_of(text) for text in other]
        on_english = [english_of(text) for text in english]
        ms = (time.perf_counter() - start) / (len(other) + len(english)) * 1000
        print(
            f"{name:12s} {max(on_other):10.4f} {min(on_english):8.4f} {sum(p < 0.01 for p in on_english):9d} "
            f"{sum(p < FOREIGN_BELOW for p in on_english):9d} {ms:8.2f}"
        )


if __name__ == "__main__":
    main()
