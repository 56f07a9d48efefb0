"""Scale-out: passages per second of a build in this process and on Ray (1 worker with every core, or 2 workers of one
core each) on this machine, with the real model, and a projection (stated as such) to 10M and 100M passages.

Usage: python benchmarks/scale_out.py [--corpus ../shared/beir/scifact-train/corpus.jsonl] [--documents 600]
       [--queries-only] [--query-documents 5183]

Then the stores: one index of the corpus (5,183 SciFact documents by default) searched on its own FAISS segments,
on Milvus Lite and on a real Milvus 2.3.5 server started on loopback (the ``milvus`` PyPI package), each written by
``rag index``'s own mirror (timed), with SciFact's questions searched one at a time.

Each build indexes the same documents into a fresh folder (no embedding cache to lean on), in a fresh process, and
is timed end to end (a Ray build includes starting Ray and loading the model in each actor). A last build with a
random-weight stand-in model (same tokenizer, no layer) measures what the driver does besides loading the model and
embedding, which are timed and left out: reading, chunking, writing. The projection divides a corpus by N workers'
measured rate, capped by that driver rate: the driver walks, chunks and writes alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from scale import run_child

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "beir" / "scifact-train" / "corpus.jsonl"


def step_build(corpus: str, index_dir: str, settings_json: str) -> None:
    """(child) one build with the given settings; its time and passage count, and the time spent loading the
    model and embedding (the rest is the driver's: reading, chunking, writing)."""
    from rag.embedding import Embedder
    from rag.index.build import build_index
    from rag.settings import Settings

    model_seconds = [0.0]

    def timed(method):
        def run(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                model_seconds[0] += time.perf_counter() - begun

        return run

    Embedder.__init__ = timed(Embedder.__init__)
    Embedder.embed_passages_with_sentences = timed(Embedder.embed_passages_with_sentences)
    settings = Settings(**json.loads(settings_json))
    started = time.perf_counter()
    report = build_index([Path(corpus)], settings, index_dir=Path(index_dir))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "passages": report.chunks, "driver": seconds - model_seconds[0]}))


def step_queries(index_dir: str, settings_json: str, queries_json: str) -> None:
    """(child) the index's vector store brought in step (timed), then each question searched alone: the store's
    vector search (no filter, and a source filter keeping the documents whose id ends in 0-2, scattered over the
    whole index) and the whole dense
    search (embedding, store, citations); p50 and p95 in ms."""
    import numpy as np

    from rag.embedding import Embedder
    from rag.index.dense.mirror import VectorMirror
    from rag.index.reader import open_index
    from rag.search.searcher import Searcher
    from rag.settings import Settings
    from rag.types import SearchFilters

    settings = Settings(**json.loads(settings_json))
    questions = json.loads(queries_json)
    started = time.perf_counter()
    mirror = VectorMirror.before_build(Path(index_dir), settings)
    if mirror is not None:
        mirror.after_build()
    write_seconds = time.perf_counter() - started
    embedder = Embedder.from_settings(settings)
    vectors = embedder.embed_queries(questions)
    with Searcher(open_index(Path(index_dir), settings), embedder, settings) as searcher:
        third = searcher.retriever.allowed_chunk_ids(SearchFilters(source="*[0-2]"))  # ids ending in 0-2: scattered
        runs = {
            "vectors": lambda q, v: searcher.index.vectors.search(v[None], 10),
            "vectors, filtered": lambda q, v: searcher.index.vectors.search(v[None], 10, third),
            "dense search": lambda q, v: searcher.search(q, 10, mode="dense"),
        }
        timings: dict[str, list[float]] = {}
        for _ in range(2):  # the first round warms caches; the second is kept
            timings = {name: [] for name in runs}
            for question, vector in zip(questions, vectors, strict=True):
                for name, run in runs.items():
                    begun = time.perf_counter()
                    run(question, vector)
                    timings[name].append((time.perf_counter() - begun) * 1000)
    percentiles = {name: [float(np.percentile(t, 50)), float(np.percentile(t, 95))] for name, t in timings.items()}
    print(json.dumps({"write": write_seconds, "kept": third.count} | percentiles))


def build(corpus: Path, work: Path, name: str, **settings: object) -> dict:
    env = os.environ | {"RAY_TMPDIR": str(work / "ray")}
    result = run_child("_build", str(corpus), str(work / name), json.dumps(settings), script=__file__, env=env)
    result["rate"] = result["passages"] / result["seconds"]
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        STEPS[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a BEIR corpus.jsonl")
    parser.add_argument("--documents", type=int, default=600, help="documents taken from its start")
    parser.add_argument("--queries-only", action="store_true", help="skip the builds: only the stores' query times")
    parser.add_argument("--query-documents", type=int, default=5183, help="documents of the corpus the stores hold")
    args = parser.parse_args()
    if not args.queries_only:
        builds(args)
    queries(args)


def builds(args: argparse.Namespace) -> None:
    from tests.standin import make_standin_model

    with tempfile.TemporaryDirectory(prefix="scaleout", dir="/tmp") as tmp:
        work = Path(tmp)
        (work / "ray").mkdir()
        corpus = work / "corpus.jsonl"
        with args.corpus.open(encoding="utf-8") as source:
            corpus.write_text("".join(line for _, line in zip(range(args.documents), source, strict=False)), "utf-8")
        make_standin_model(work / "standin", dimension=384, layers=0)
        runs = {
            "this process (torch, every core)": build(corpus, work, "local"),
            "Ray, 1 worker of 2 CPUs": build(corpus, work, "ray1", engine="ray", ray_workers=1, ray_worker_cpus=2),
            "Ray, 2 workers of 1 CPU": build(corpus, work, "ray2", engine="ray", ray_workers=2, ray_worker_cpus=1),
        }
        driver = build(corpus, work, "driver", model=str(work / "standin"))
    print(f"{runs['this process (torch, every core)']['passages']:,} passages ({args.documents} documents of "
          f"{args.corpus.parent.name}), real model, {os.cpu_count()} cores\n")  # fmt: skip
    print("| build | seconds | passages/s |\n|---|---|---|")
    for name, run in runs.items():
        print(f"| {name} | {run['seconds']:.1f} | {run['rate']:.1f} |")
    driver_rate = driver["passages"] / driver["driver"]
    print(f"| the driver's own work (stand-in model; its loading and embedding left out) | {driver['driver']:.1f} | "
          f"{driver_rate:.0f} |")  # fmt: skip
    per_worker = runs["Ray, 1 worker of 2 CPUs"]["rate"]
    print(f"\nProjection (not measured): one 2-core worker embeds {per_worker:.1f} passages/s end to end; the driver "
          f"keeps up to {driver_rate:.0f} passages/s.\n")  # fmt: skip
    print("| passages | 1 worker | 8 workers | 32 workers | 128 workers |\n|---|---|---|---|---|")
    for total in (10_000_000, 100_000_000):
        cells = [_duration(total / min(per_worker * n, driver_rate)) for n in (1, 8, 32, 128)]
        print(f"| {total:,} | " + " | ".join(cells) + " |")


def queries(args: argparse.Namespace) -> None:
    """The same index searched on its FAISS segments, on Milvus Lite and on a real Milvus server started here."""
    from tests.milvus_for_tests import MilvusUnavailable, running_milvus

    questions_path = args.corpus.parent / "queries.jsonl"
    with questions_path.open(encoding="utf-8") as lines:
        questions = [json.loads(line)["text"] for line, _ in zip(lines, range(200), strict=False)]
    with tempfile.TemporaryDirectory(prefix="scaleout-q", dir="/tmp") as tmp:
        work = Path(tmp)
        corpus = work / "corpus.jsonl"
        with args.corpus.open(encoding="utf-8") as source:
            corpus.write_text("".join(line for _, line in zip(range(args.query_documents), source, strict=False)),
                              "utf-8")  # fmt: skip
        built = run_child("_build", str(corpus), str(work / "index"), json.dumps({}), script=__file__)
        stores = {"FAISS (the index's segments)": {}, "Milvus Lite": {
            "vector_store": f"milvus-lite:{work / 'lite.db'}", "milvus_collection": "bench"}}  # fmt: skip
        results = {}
        try:
            with running_milvus(work / "milvus-server") as uri:
                stores["Milvus 2.3.5 server (loopback)"] = {"vector_store": uri, "milvus_collection": "bench"}
                for name, settings in stores.items():
                    results[name] = run_child("_queries", str(work / "index"), json.dumps(settings),
                                              json.dumps(questions), script=__file__)  # fmt: skip
        except MilvusUnavailable as exc:
            print(f"no Milvus server: {exc}", file=sys.stderr)
    print(f"\n{built['passages']:,} passages ({args.query_documents} documents), {len(questions)} questions each "
          f"searched alone, k=10; the filter keeps {next(iter(results.values()))['kept']:,} passages\n")  # fmt: skip
    print("| store | writing its vectors | vectors p50 / p95 ms | filtered p50 / p95 ms | dense search p50 / p95 ms |")
    print("|---|---|---|---|---|")
    for name, result in results.items():
        cells = [f"{result[key][0]:.1f} / {result[key][1]:.1f}" for key in ("vectors", "vectors, filtered",
                                                                              "dense search")]  # fmt: skip
        print(f"| {name} | {result['write']:.1f} s | " + " | ".join(cells) + " |")


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


STEPS = {"_build": step_build, "_queries": step_queries}

if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    main()
