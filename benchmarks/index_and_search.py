"""Indexing throughput and in-process search latency, on the seed corpus and on a generated corpus.

Usage: python benchmarks/index_and_search.py [--generated-docs 400] [--queries 200]

Prints, per corpus: documents, chunks, build time (model already loaded), documents/s and chunks/s, then the
median and p95 latency of single ``Searcher.search`` calls in each mode (embedding the question, FAISS and/or
BM25, fusion, overlap removal, highlight, metadata lookup).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import faiss

from rag.batch import read_questions
from rag.embedding import Embedder
from rag.index.build import build_index
from rag.index.reader import open_index
from rag.ingest.loading import load_corpus
from rag.search.searcher import Searcher
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def generate_corpus(folder: Path, documents: int, seed: int = 0) -> None:
    """Documents made of sentences recombined from the seed corpus's vocabulary: realistic lengths, no copies."""
    words = [w for doc in load_corpus([ROOT / "seeds"]).documents for w in doc.text.split() if w.isalpha()]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(documents):
        paragraphs = []
        for _ in range(rng.randint(3, 8)):
            sentences = [" ".join(rng.choices(words, k=rng.randint(8, 30))).capitalize() + "." for _ in range(5)]
            paragraphs.append(" ".join(sentences))
        (folder / f"doc_{number:05d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(name: str, corpus: Path, settings: Settings, embedder: Embedder, questions: list[str], n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = build_index([corpus], settings, index_dir=Path(tmp), embedder=embedder)
        seconds = time.perf_counter() - started
        latencies: dict[str, list[float]] = {}
        with Searcher(open_index(Path(tmp), settings), embedder, settings) as searcher:
            searcher.search(questions[0])  # warm-up
            for mode in ("dense", "bm25", "hybrid"):
                latencies[mode] = []
                for i in range(n):
                    started = time.perf_counter()
                    searcher.search(questions[i % len(questions)], settings.top_k, mode=mode)
                    latencies[mode].append((time.perf_counter() - started) * 1000)
    print(
        f"{name:<10} docs={report.documents:<5} chunks={report.chunks:<6} build={seconds:6.1f}s "
        f"docs/s={report.documents / seconds:7.1f} chunks/s={report.chunks / seconds:6.1f}"
    )
    for mode, values in latencies.items():
        print(
            f"{'':<10} search {mode:<6} median={statistics.median(values):5.1f}ms "
            f"p95={percentile(values, 0.95):5.1f}ms (n={n}, k={settings.top_k}, with highlight)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generated-docs", type=int, default=400)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    faiss.omp_set_num_threads(settings.faiss_threads)
    started = time.perf_counter()
    embedder = Embedder.from_settings(settings)
    print(
        f"model {settings.model} loaded in {time.perf_counter() - started:.1f}s; chunk_tokens={settings.chunk_tokens}"
    )
    questions = [q.question for q in read_questions(ROOT / "tests" / "data" / "seeds_dev.jsonl")]
    measure("seeds", ROOT / "seeds", settings, embedder, questions, args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        generate_corpus(Path(tmp), args.generated_docs)
        measure("generated", Path(tmp), settings, embedder, questions, args.queries)


if __name__ == "__main__":
    main()
