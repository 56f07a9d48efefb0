"""Encoder backends of the embedding model against torch: passages/s, query latency, vector agreement, and
nDCG@10 (dense, bm25, hybrid) on a BEIR data set with the project's own evaluation.

Usage: python benchmarks/encoder_backends.py [../shared/beir/scifact-train] [--split train] [--rounds 7]
           [--docs 250] [--backends torch:f32,openvino:f32,openvino:bf16] [--no-eval]

Speed: every backend is loaded once in this process and timed in interleaved rounds (the order rotates each round)
on the passages of the first ``--docs`` documents, as an index build embeds them (96-token chunks, sentence
vectors pooled from token embeddings, batch 32); the machine is shared, so what is reported is the median over
rounds of each round's ratio to torch, not absolute speeds (those are printed for orientation only). The ratio of
passages per CPU-second (this process's threads) is shown beside it: it moves less when other work takes cores.

Quality: each backend builds its own index of the whole corpus in a fresh temporary folder (the embedding cache
keys vectors by model name and text, not by backend, so a shared cache would hand one backend another's vectors)
and is scored with ``evaluate_beir``; the last row searches the torch-built index with the last backend's query
vectors, which is what happens when the backend setting changes under an existing index (indexes record the
model name only). Needs the eval extra and, for OpenVINO, ``pip install openvino``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.eval.datasets import load_beir
from rag.eval.evaluation import PRIMARY, EvalReport, compare_reports, evaluate_beir
from rag.eval.run import variants_for
from rag.ingest.chunking import Chunker, sentence_spans_of
from rag.ingest.loading import load_corpus
from rag.settings import Settings

MODES = "dense,bm25,hybrid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, nargs="?", default=Path("../shared/beir/scifact-train"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--docs", type=int, default=250, help="documents whose passages are timed")
    parser.add_argument("--queries", type=int, default=100, help="queries timed one at a time per round")
    parser.add_argument("--backends", default="torch:f32,openvino:f32,openvino:bf16")
    parser.add_argument("--no-eval", action="store_true", help="speed and agreement only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    base = Settings(_env_file=None)
    configs = [tuple(item.split(":")) for item in args.backends.split(",")]
    if configs[0] != ("torch", "f32"):
        raise SystemExit("the first backend must be torch:f32 (the reference)")
    embedders = {}
    for backend, precision in configs:
        started = time.perf_counter()
        embedders[(backend, precision)] = Embedder.from_settings(_settings(base, backend, precision))
        print(f"loaded {backend} {precision} in {time.perf_counter() - started:.1f} s")

    dataset = load_beir(args.dataset, args.split)
    texts, spans = _passages(dataset.corpus, args.docs, base, embedders[configs[0]])
    queries = list(dataset.queries.values())[: args.queries]
    print(f"{len(texts)} passages from the first {args.docs} documents, {len(queries)} queries; {args.rounds} rounds")
    speed = _speed(embedders, texts, spans, queries, args.rounds)

    reports: dict[str, list[EvalReport]] = {}
    if not args.no_eval:
        with tempfile.TemporaryDirectory(prefix="encoder-backends-") as tmp:
            for (backend, precision), embedder in embedders.items():
                name = f"{backend} {precision}"
                reports[name] = _evaluate(dataset, base, backend, precision, embedder, Path(tmp) / name)
            last = configs[-1]
            if last != configs[0]:
                torch_root = Path(tmp) / "torch f32"  # the cached torch index is found and reused: same key
                name = f"{last[0]} {last[1]} queries, torch index"
                reports[name] = _evaluate(dataset, base, *last, embedders[last], torch_root)
    _print_table(speed, reports)


def _settings(base: Settings, backend: str, precision: str) -> Settings:
    return base.model_copy(update={"backend": backend, "backend_precision": precision})


def _passages(corpus: Path, docs: int, settings: Settings, embedder: Embedder) -> tuple[list[str], list]:
    """The embedded texts and sentence spans of the first ``docs`` documents' passages, as a build makes them."""
    documents = load_corpus([corpus]).documents[:docs]
    chunker = Chunker.from_settings(settings, embedder.tokenizer, embedder.max_content_tokens)
    chunks = [c for doc_chunks in chunker.chunk_batch(documents) for c in doc_chunks]
    spans = [[c.embed_span(a, b) for a, b in sentence_spans_of(c, settings.language)] for c in chunks]
    return [c.embed_text for c in chunks], spans


def _speed(embedders: dict, texts: list[str], spans: list, queries: list[str], rounds: int) -> dict:
    """Per backend: median same-round ratios to torch (passages/s, query p50), median absolute figures, and the
    least cosine to torch of passage, sentence and query vectors."""
    keys = list(embedders)
    rates: dict = {k: [] for k in keys}
    cpu_rates: dict = {k: [] for k in keys}
    p50s: dict = {k: [] for k in keys}
    vectors: dict = {}
    for round_no in range(rounds):
        shift = round_no % len(keys)
        for key in keys[shift:] + keys[:shift]:
            embedder = embedders[key]
            started, cpu_started = time.perf_counter(), time.process_time()
            passages, sentences = embedder.embed_passages_with_sentences(texts, spans)
            rates[key].append(len(texts) / (time.perf_counter() - started))
            cpu_rates[key].append(len(texts) / (time.process_time() - cpu_started))
            latencies, query_vectors = [], []
            for query in queries:
                started = time.perf_counter()
                query_vectors.append(embedder.embed_queries([query])[0])
                latencies.append(time.perf_counter() - started)
            p50s[key].append(statistics.median(latencies))
            vectors.setdefault(key, (passages, np.concatenate(sentences), np.stack(query_vectors)))
        print(f"round {round_no + 1}: " + ", ".join(f"{' '.join(k)} {rates[k][-1]:.0f}/s" for k in keys))
    reference = keys[0]
    result = {}
    for key in keys:
        result[key] = {
            "passages_ratio": statistics.median(r / t for r, t in zip(rates[key], rates[reference], strict=True)),
            "cpu_ratio": statistics.median(r / t for r, t in zip(cpu_rates[key], cpu_rates[reference], strict=True)),
            "query_speedup": statistics.median(t / r for r, t in zip(p50s[key], p50s[reference], strict=True)),
            "passages_per_s": statistics.median(rates[key]),
            "query_p50_ms": 1000 * statistics.median(p50s[key]),
            "cosine": tuple(
                float(np.min(np.sum(a * b, axis=1))) for a, b in zip(vectors[key], vectors[reference], strict=True)
            ),
        }
    return result


def _evaluate(
    dataset, base: Settings, backend: str, precision: str, embedder: Embedder, root: Path
) -> list[EvalReport]:
    settings = _settings(base, backend, precision)
    started = time.perf_counter()
    variants = variants_for(MODES, settings)
    reports = [r for r, _ in evaluate_beir(dataset, settings, index_root=root, variants=variants, embedder=embedder)]
    timing = reports[0].timing
    index = "reused" if timing.index_cached else f"built in {timing.index_seconds:.0f} s"
    print(f"evaluated {backend} {precision} in {root.name}: index {index}, {time.perf_counter() - started:.0f} s")
    return reports


def _print_table(speed: dict, reports: dict[str, list[EvalReport]]) -> None:
    print()
    print("| backend | passages/s vs torch | passages per CPU-s vs torch | query p50 speed-up | passages/s | "
          "query p50 ms | min cosine vs torch (passages / sentences / queries) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for key, row in speed.items():
        cosine = " / ".join(f"{c:.6f}" for c in row["cosine"])
        print(
            f"| {' '.join(key)} | {row['passages_ratio']:.2f} | {row['cpu_ratio']:.2f} | {row['query_speedup']:.2f} | "
            f"{row['passages_per_s']:.0f} | {row['query_p50_ms']:.1f} | {cosine} |"
        )
    if not reports:
        return
    reference = next(iter(reports.values()))
    modes = [r.settings["mode"] for r in reference]
    print()
    print(f"| backend | {' | '.join(f'{PRIMARY} {m}' for m in modes)} | difference vs torch (paired t-test p) |")
    print("|---|" + "---|" * (len(modes) + 1))
    for name, runs in reports.items():
        cells = [f"{r.measures[PRIMARY]:.4f}" for r in runs]
        differences = []
        for ref, run in zip(reference, runs, strict=True):
            comparison = next(c for c in compare_reports(ref, run) if c.measure == PRIMARY)
            p = "-" if comparison.p_value is None else f"{comparison.p_value:.2f}"
            differences.append(f"{run.settings['mode']} {comparison.difference:+.4f} (p {p})")
        print(f"| {name} | {' | '.join(cells)} | {'; '.join(differences)} |")


if __name__ == "__main__":
    main()
