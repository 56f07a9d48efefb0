"""Knowing when nothing answers: the answerability verdict's precision and recall, with the relevance margins.

Usage: python benchmarks/answerability.py [--index-root /tmp/rag-eval] [--threshold 0.35]

Two question sets that mix answerable and unanswerable questions:

- the seed corpus with ``tests/data/seeds_dev.jsonl`` (answerable) and ``tests/data/seeds_offtopic_dev.jsonl``
  (questions it does not answer);
- SciFact train: each claim asked twice over its corpus, once as is (its relevant abstracts are there: answerable)
  and once with its relevant abstracts left out of the search (unanswerable; the same as removing them from the
  corpus, except for BM25's term statistics).

"Answerable" is the positive class: precision is the share of questions said to be answerable that are; recall
the share of answerable questions said to be. The unanswerable side is reported the same way.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from rag.batch import read_questions
from rag.embedding import Embedder
from rag.eval.datasets import load_beir
from rag.eval.evaluation import ensure_beir_index
from rag.index.build import build_index
from rag.index.reader import open_index
from rag.runtime import configure_process
from rag.search.answerability import VERDICT_PASSAGES, answerable, best_relevance
from rag.search.searcher import Searcher
from rag.settings import Settings
from rag.types import SearchFilters

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "beir" / "scifact-train"


def report(name: str, verdicts: list[bool | None], truth: list[bool], best: list[float]) -> None:
    """Precision and recall of both kinds, accuracy, and the best relevance of each kind's questions."""
    said = np.array([v is True for v in verdicts])
    truth_ = np.array(truth)
    right = said == truth_
    print(f"\n{name}: {len(truth)} questions, {truth_.sum()} answerable")
    for label, positive, actual in (("answerable", said, truth_), ("unanswerable", ~said, ~truth_)):
        precision = (positive & actual).sum() / max(positive.sum(), 1)
        recall = (positive & actual).sum() / max(actual.sum(), 1)
        print(f"  {label:12}  precision {precision:.3f}  recall {recall:.3f}")
    print(f"  verdict right: {right.sum()}/{len(right)} ({right.mean():.1%})")
    best_ = np.array(best)
    for label, mask in (("answerable", truth_), ("unanswerable", ~truth_)):
        values = np.sort(best_[mask])
        if len(values):
            low, mid, high = np.percentile(values, [5, 50, 95])
            print(f"  best relevance of {label} questions: 5% {low:.3f}  median {mid:.3f}  95% {high:.3f}")


def seeds(settings: Settings, embedder: Embedder) -> None:
    questions = [
        *read_questions(ROOT / "tests" / "data" / "seeds_dev.jsonl"),
        *read_questions(ROOT / "tests" / "data" / "seeds_offtopic_dev.jsonl"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        build_index([ROOT / "seeds"], settings, index_dir=Path(tmp), embedder=embedder)
        with Searcher(open_index(Path(tmp), settings), embedder, settings) as searcher:
            results = searcher.search_batch([q.question for q in questions], VERDICT_PASSAGES)
    report(
        "seeds dev + off-topic",
        [answerable(h) for h in results],
        [not q.unanswerable for q in questions],
        [best_relevance(h) or 0.0 for h in results],
    )
    for q, hits in zip(questions, results, strict=True):
        if answerable(hits) == q.unanswerable:
            print(f"    wrong: {q.id} {q.question!r} (best relevance {best_relevance(hits) or 0.0:.3f})")


def scifact(settings: Settings, embedder: Embedder, root: Path) -> None:
    if not SCIFACT.is_dir():
        print(f"\n{SCIFACT} is missing: SciFact skipped")
        return
    dataset = load_beir(SCIFACT, "train")
    folder, _, _ = ensure_beir_index(dataset, settings, root, embedder)
    qids = [q for q in dataset.queries if q in dataset.qrels]
    claims = [dataset.queries[q] for q in qids]
    with Searcher(open_index(folder, settings), embedder, settings) as searcher:
        chunk_documents = searcher.index.store.chunk_doc_ids()
        every = np.fromiter(chunk_documents, dtype=np.int64)
        present = searcher.search_batch(claims, VERDICT_PASSAGES)
        removed = []
        restrict = SearchFilters(source="*")  # any filter: the allowed chunks below replace its result
        for qid, claim in zip(qids, claims, strict=True):
            relevant = {d for d, grade in dataset.qrels[qid].items() if grade > 0}
            allowed = every[[chunk_documents[int(c)] not in relevant for c in every]]
            searcher.retriever.allowed_chunk_ids = lambda _filters, allowed=allowed: allowed
            removed.append(searcher.search(claim, VERDICT_PASSAGES, restrict))
    results = [*present, *removed]
    report(
        "SciFact train claims, with and without their relevant abstracts",
        [answerable(h) for h in results],
        [True] * len(present) + [False] * len(removed),
        [best_relevance(h) or 0.0 for h in results],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-root", type=Path, default=Path("/tmp/rag-eval"))
    parser.add_argument("--threshold", type=float, default=None, help="answer_threshold (default: the setting)")
    args = parser.parse_args()
    settings = Settings()
    if args.threshold is not None:
        settings = settings.model_copy(update={"answer_threshold": args.threshold})
    configure_process(settings)
    embedder = Embedder.from_settings(settings)
    print(f"answer_threshold {settings.answer_threshold}")
    seeds(settings, embedder)
    scifact(settings, embedder, args.index_root)


if __name__ == "__main__":
    main()
