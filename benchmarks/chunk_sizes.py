"""Measure how chunk size and overlap change retrieval quality.

Usage:
    python benchmarks/chunk_sizes.py                       # seed question set: answer recall@1/3/5, MRR
    python benchmarks/chunk_sizes.py --beir ../shared/beir/scifact-train --split train --distractors 1100

With --beir, each setting is also scored on a sample of the BEIR corpus: every document judged relevant plus
DISTRACTORS random others (seed 0), so that six settings take minutes rather than half an hour.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from rag.batch import read_questions
from rag.embedding import Embedder
from rag.eval.datasets import BeirDataset, load_beir
from rag.eval.evaluation import Variant, evaluate_beir, evaluate_questions
from rag.index.build import build_index
from rag.index.reader import open_index
from rag.search.searcher import Searcher
from rag.settings import Settings

SIZES = [(64, 16), (96, 24), (96, 32), (128, 32), (192, 48), (254, 64)]


def sampled_corpus(dataset: BeirDataset, distractors: int, folder: Path) -> BeirDataset:
    """The judged documents plus ``distractors`` random others, written as a new corpus.jsonl."""
    relevant = {doc for judged in dataset.qrels.values() for doc in judged}
    lines = dataset.corpus.read_text(encoding="utf-8").splitlines()
    keep = [line for line in lines if json.loads(line)["_id"] in relevant]
    others = [line for line in lines if json.loads(line)["_id"] not in relevant]
    keep += random.Random(0).sample(others, min(distractors, len(others)))
    corpus = folder / "corpus.jsonl"
    corpus.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return BeirDataset(f"{dataset.name}-sample", dataset.split, corpus, dataset.queries, dataset.qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=Path("tests/data/seeds_dev.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    parser.add_argument("--beir", type=Path, default=None, help="also score a sample of this BEIR folder")
    parser.add_argument("--split", default="train")
    parser.add_argument("--distractors", type=int, default=1100)
    parser.add_argument("--mode", default="dense", help="retrieval variant scored (the README table: dense)")
    args = parser.parse_args()
    questions = read_questions(args.questions)
    variant = Variant.parse(args.mode)
    base = Settings()
    embedder = Embedder.from_settings(base)
    with tempfile.TemporaryDirectory() as tmp:
        beir = sampled_corpus(load_beir(args.beir, args.split), args.distractors, Path(tmp)) if args.beir else None
        header = f"{'tokens':>6} {'overlap':>7} {'chunks':>6} {'R@1':>5} {'R@3':>5} {'R@5':>5} {'MRR':>5}"
        if beir:
            header += f" {'beir chunks':>11} {'nDCG@10':>7} {'R@100':>6} {'MRR@10':>6}"
        print(header, flush=True)
        for tokens, overlap in SIZES:
            settings = base.model_copy(update={"chunk_tokens": tokens, "chunk_overlap_tokens": overlap})
            index_dir = Path(tmp) / f"seeds-{tokens}-{overlap}"
            built = build_index([args.corpus], settings, index_dir=index_dir, embedder=embedder)
            with Searcher(open_index(index_dir, settings), embedder, settings) as searcher:
                m = evaluate_questions(questions, searcher, name=args.questions.name, k=10, variant=variant).measures
            row = (
                f"{tokens:>6} {overlap:>7} {built.chunks:>6} {m['answer_recall@1']:>5.2f} "
                f"{m['answer_recall@3']:>5.2f} {m['answer_recall@5']:>5.2f} {m['answer_MRR']:>5.2f}"
            )
            if beir:
                ((report, _),) = evaluate_beir(
                    beir, settings, index_root=Path(tmp), variants=[variant], embedder=embedder
                )
                b, chunks = report.measures, report.index_counts["chunks"]
                row += f" {chunks:>11} {b['nDCG@10']:>7.3f} {b['R@100']:>6.3f} {b['MRR@10']:>6.3f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
