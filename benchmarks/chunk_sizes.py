"""Measure how chunk size and overlap change answer recall on the seed question set.

Usage: python benchmarks/chunk_sizes.py [--questions tests/data/seeds_dev.jsonl] [--corpus seeds]
Prints one row per setting: chunks, answer recall@1/@3/@5, MRR.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rag.batch import answer_questions, read_questions
from rag.embedding import Embedder
from rag.evaluation import score_question_set
from rag.index import build_index, open_index
from rag.search import Searcher
from rag.settings import Settings

SIZES = [(64, 16), (96, 24), (128, 0), (128, 32), (192, 48), (254, 64)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=Path("tests/data/seeds_dev.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    args = parser.parse_args()
    questions = read_questions(args.questions)
    base = Settings()
    embedder = Embedder(base.model)
    print(f"{'tokens':>6} {'overlap':>7} {'chunks':>6} {'R@1':>5} {'R@3':>5} {'R@5':>5} {'MRR':>5}")
    for tokens, overlap in SIZES:
        settings = base.model_copy(update={"chunk_tokens": tokens, "chunk_overlap_tokens": overlap})
        with tempfile.TemporaryDirectory() as tmp:
            report = build_index([args.corpus], settings, index_dir=Path(tmp), embedder=embedder)
            searcher = Searcher(open_index(Path(tmp), settings), embedder, settings)
            scores = score_question_set(list(answer_questions(searcher, questions, 10)))
            searcher.close()
        r, mrr = scores.answer_recall, scores.answer_mrr
        print(f"{tokens:>6} {overlap:>7} {report.chunks:>6} {r[1]:>5.2f} {r[3]:>5.2f} {r[5]:>5.2f} {mrr:>5.2f}")


if __name__ == "__main__":
    main()
