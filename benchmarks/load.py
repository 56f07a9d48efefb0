"""Load: 16 concurrent clients against a real ``rag serve``, with and without index updates landing meanwhile.

Usage: python benchmarks/load.py [--clients 16] [--seconds 30] [--update-every 3] [--corpus seeds]

A private copy of the corpus is indexed with the configured (real) model, and the service started on loopback
with hot reload every 0.5 s. Four phases, each ``--seconds`` long, each client a thread with its own connection:

1. search: every client sends ``POST /search`` (hybrid, 5 passages), questions from ``tests/data/seeds_dev.jsonl``
   in turn;
2. mix: a quarter of the clients stream ``POST /v1/chat/completions`` (read to ``[DONE]``), the rest search;
3. search while updating: as 1, while every ``--update-every`` seconds the index changes: one corpus file edited
   and synced by this process (as ``rag index`` would), or a document uploaded over ``POST /documents``, in turn;
   the service reloads each new build;
4. mix while updating.

For each phase: requests, failures (any status but 200, any transport error, a stream without ``[DONE]``),
p50/p95/p99 latency, requests per second, and builds the service switched to. The service's resident memory is
read after a warm-up, after each phase, and after the last reload has settled: a reload must give back the
previous build's memory (the issue's bar: within 10% of the start after three reloads). Zero failures is the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "tests/data/seeds_dev.jsonl").read_text().splitlines() if line.strip()]
    return [row["question"] for row in rows]


@dataclass
class Tally:
    """Latencies of successful requests and descriptions of failed ones, from every client of a phase."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"search": [], "chat": []})
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, started: float, failure: str | None) -> None:
        with self.lock:
            if failure is None:
                self.latencies[kind].append((time.perf_counter() - started) * 1000)
            else:
                self.failures.append(f"{kind}: {failure}")


def search_once(client: httpx.Client, question: str) -> str | None:
    response = client.post("/search", json={"query": question, "top_k": 5})
    if response.status_code != 200:
        return f"{response.status_code} {response.text[:200]}"
    return None if response.json()["results"] else "no results"


def chat_once(client: httpx.Client, question: str) -> str | None:
    body = {"model": "rag-search", "stream": True, "messages": [{"role": "user", "content": question}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return f"{response.status_code} {response.read()[:200]!r}"
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    return None if lines and lines[-1] == "data: [DONE]" else f"stream ended without [DONE] ({len(lines)} events)"


def client_loop(base_url: str, kind: str, asked: list[str], offset: int, tally: Tally, stop: threading.Event) -> None:
    call = search_once if kind == "search" else chat_once
    with httpx.Client(base_url=base_url, timeout=120) as client:
        n = offset
        while not stop.is_set():
            started = time.perf_counter()
            try:
                failure = call(client, asked[n % len(asked)])
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            tally.record(kind, started, failure)
            n += 1


class Updater:
    """Changes the index every ``every`` seconds: a corpus file edited and synced in this process, or a document
    uploaded to the service, in turn."""

    def __init__(self, corpus: Path, index_dir: Path, base_url: str, every: float) -> None:
        from rag.embedding import Embedder
        from rag.settings import Settings

        self.corpus, self.index_dir, self.base_url, self.every = corpus, index_dir, base_url, every
        self.settings = Settings()
        self.embedder = Embedder.from_settings(self.settings)
        self.updates: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Updater:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="updater")
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from rag.index.build import build_index

        files = sorted(p for p in self.corpus.iterdir() if p.is_file())
        n = len(self.updates)
        while not self._stop.wait(self.every):
            try:
                if n % 2 == 0:
                    with files[n % len(files)].open("a", encoding="utf-8") as handle:
                        handle.write(f"\nUpdate {n}: the night ferry left the harbour at {n % 12 + 1} o'clock.\n")
                    build_index([self.corpus], self.settings, index_dir=self.index_dir, embedder=self.embedder)
                    self.updates.append("sync")
                else:
                    note = f"Upload {n}: the lighthouse keeper logged {n} passing ships.\n".encode()
                    response = httpx.post(f"{self.base_url}/documents", files=[("files", ("log.txt", note))],
                                          timeout=120)  # fmt: skip
                    response.raise_for_status()
                    self.updates.append("upload")
            except Exception as exc:  # reported with the figures, not raised in a thread
                self.errors.append(f"{type(exc).__name__}: {exc}")
            n += 1


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def build_id(base_url: str) -> str:
    return httpx.get(f"{base_url}/ready", timeout=30).json()["index_build_id"]


def run_phase(base_url: str, clients: int, seconds: float, chat_share: float, asked: list[str]) -> Tally:
    tally, stop = Tally(), threading.Event()
    chats = round(clients * chat_share)
    threads = [
        threading.Thread(target=client_loop, args=(base_url, "chat" if i < chats else "search", asked, i, tally, stop))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return tally


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--update-every", type=float, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from conftest import RunningServer

    from rag.index.build import build_index
    from rag.settings import Settings

    asked = questions()
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        root = Path(tmp)
        corpus, index_dir = root / "corpus", root / "index"
        shutil.copytree(args.corpus, corpus)
        build_index([corpus], Settings(), index_dir=index_dir)
        server = RunningServer(index_dir, cwd=root, env={"RAG_RELOAD_INTERVAL": "0.5", "HF_HUB_OFFLINE": "1"})
        try:
            pid = server.process.pid
            run_phase(server.base_url, args.clients, 5, 0.25, asked)  # warm-up: caches, thread pools, allocator
            memory = {"start": rss_mib(pid)}
            rows = []
            phases = [("search", 0.0, False), ("mix", 0.25, False), ("search + updates", 0.0, True),
                      ("mix + updates", 0.25, True)]  # fmt: skip
            updater = Updater(corpus, index_dir, server.base_url, args.update_every)
            for name, chat_share, updating in phases:
                first_build = build_id(server.base_url)
                if updating:
                    with updater:
                        tally = run_phase(server.base_url, args.clients, args.seconds, chat_share, asked)
                else:
                    tally = run_phase(server.base_url, args.clients, args.seconds, chat_share, asked)
                if updating and build_id(server.base_url) == first_build:
                    tally.failures.append(f"update: the service never switched builds during {name}")
                rows.append((name, tally))
                memory[f"after {name}"] = rss_mib(pid)
            time.sleep(3)  # the last build served, the replaced ones let go
            memory["settled"] = rss_mib(pid)
            reloads = len(updater.updates)
        finally:
            server.stop()
    print_report(args, rows, memory, reloads, updater.errors)


def print_report(args, rows, memory: dict[str, float], reloads: int, update_errors: list[str]) -> None:
    print(f"\n{args.clients} clients, {args.seconds:g} s a phase, an update every {args.update_every:g} s in the "
          f"updating phases ({reloads} updates in all, {len(update_errors)} failed)\n")  # fmt: skip
    print("| phase | kind | requests | failed | p50 ms | p95 ms | p99 ms | requests/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, tally in rows:
        for kind, values in tally.latencies.items():
            failed = sum(1 for f in tally.failures if f.startswith(kind))
            if not values and not failed:
                continue
            print(f"| {name} | {kind} | {len(values) + failed} | {failed} | {percentile(values, 50):.0f} | "
                  f"{percentile(values, 95):.0f} | {percentile(values, 99):.0f} | "
                  f"{(len(values) + failed) / args.seconds:.1f} |")  # fmt: skip
    print("\nservice memory (RSS, MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in memory.items()))
    print(f"settled / start: {memory['settled'] / memory['start']:.3f}")
    failures = [f for _, tally in rows for f in tally.failures]
    for failure in failures[:10]:
        print("failure:", failure)
    for error in update_errors[:5]:
        print("update error:", error)
    print("RESULT:", "PASS" if not failures and not update_errors else "FAIL", f"({len(failures)} failed requests)")


if __name__ == "__main__":
    main()
