"""The service against the library: the same searches over HTTP (a real `rag serve` on loopback) and in-process,
one client at a time and 8 at once, on the seed index with the real model.

Usage: python benchmarks/http_latency.py [--index vectors] [--rounds 3] [--requests 60]

Rounds alternate in-process and HTTP (the machine is shared and noisy) and the ratio of the medians of p50 per
round is printed. Both run with the service's thread settings (``RAG_FAISS_THREADS`` OpenMP and torch threads).
In-process, the 8 concurrent clients are 8 threads calling the same ``Searcher``; over HTTP, 8 threads with
their own connection. Each search asks for 5 passages in hybrid mode.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "tests/data/seeds_dev.jsonl").read_text().splitlines() if line.strip()]
    return [row["question"] for row in rows]


def timed(call, items: list[str], clients: int) -> list[float]:
    """Milliseconds per call, ``clients`` at a time."""

    def one(item: str) -> float:
        started = time.perf_counter()
        call(item)
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "vectors")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rag.runtime import configure_process, limit_service_threads
    from rag.search.searcher import Searcher
    from rag.settings import Settings
    from tests.conftest import RunningServer

    settings = Settings()
    configure_process(settings)
    limit_service_threads(settings)  # the threads rag serve runs with: the same search, in and out of process
    items = (questions() * 100)[: args.requests]
    searcher = Searcher.open(settings, args.index)
    logs = Path(tempfile.mkdtemp(prefix="rag-http-"))  # the server's log goes there
    server = RunningServer(args.index.resolve(), cwd=logs)
    local = threading_local_client(server.base_url)
    try:
        results: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for clients in (1, 8):
                timed(lambda q: searcher.search(q, 5), items[:5], 1)  # warm
                inproc = timed(lambda q: searcher.search(q, 5), items, clients)
                timed(local, items[:5], 1)
                http = timed(local, items, clients)
                for name, values in ((f"in-process/{clients}", inproc), (f"http/{clients}", http)):
                    results.setdefault(name, []).append(statistics.median(values))
        for clients in (1, 8):
            inproc, http = results[f"in-process/{clients}"], results[f"http/{clients}"]
            ratios = [h / i for h, i in zip(http, inproc, strict=True)]
            print(
                f"{clients} client{'s' if clients > 1 else ''}: p50 in-process {statistics.median(inproc):.1f} ms, "
                f"HTTP {statistics.median(http):.1f} ms, ratio {statistics.median(ratios):.2f} "
                f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    finally:
        server.stop()
        searcher.close()


def threading_local_client(base_url: str):
    """A search over HTTP with one keep-alive connection per client thread."""
    import threading

    local = threading.local()

    def search(query: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=60)
        response = local.client.post("/search", json={"query": query, "top_k": 5})
        response.raise_for_status()

    return search


if __name__ == "__main__":
    main()
