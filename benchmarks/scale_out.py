"""Scale-out: passages per second of a build in this process and on Ray (1 worker with every core, or 2 workers of one
core each) on this machine, with the real model, and a projection (stated as such) to 10M and 100M passages.

Usage: python benchmarks/scale_out.py [--corpus ../shared/beir/scifact-train/corpus.jsonl] [--documents 600]

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


def build(corpus: Path, work: Path, name: str, **settings: object) -> dict:
    env = os.environ | {"RAY_TMPDIR": str(work / "ray")}
    result = run_child("_build", str(corpus), str(work / name), json.dumps(settings), script=__file__, env=env)
    result["rate"] = result["passages"] / result["seconds"]
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        step_build(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a BEIR corpus.jsonl")
    parser.add_argument("--documents", type=int, default=600, help="documents taken from its start")
    args = parser.parse_args()
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


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    main()
