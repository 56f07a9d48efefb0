"""Shared fixtures: the real model and a real index of the seed corpus, each built once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.index.build import BuildReport, build_index
from rag.search.searcher import Searcher
from rag.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds"
DEV_QUESTIONS = Path(__file__).resolve().parent / "data" / "seeds_dev.jsonl"
CITATION_FIELDS = {"source", "start", "end", "line_start", "line_end", "date", "doc_id", "section", "page"} | {
    "page_label"
}


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return Embedder(settings.model, device=settings.device, batch_size=settings.batch_size)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, settings: Settings, embedder: Embedder) -> BuildReport:
    """A real index of a copy of the seed corpus, built once; tests must not modify it."""
    corpus = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, corpus)
    return build_index([corpus], settings, index_dir=tmp_path_factory.mktemp("index"), embedder=embedder)


@pytest.fixture(scope="session")
def seed_searcher(seed_index: BuildReport, settings: Settings, embedder: Embedder) -> Iterator[Searcher]:
    from rag.index.reader import open_index

    searcher = Searcher(open_index(seed_index.index_dir, settings), embedder, settings)
    yield searcher
    searcher.close()


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def run_rag(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    """``rag ARGS`` in a subprocess from ``cwd``, with no ``RAG_`` setting from the caller's environment."""
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "rag", *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """A real ``rag serve`` process on a loopback port, started from ``cwd`` (citations are relative to it)."""

    def __init__(self, index_dir: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        import os
        import subprocess
        import sys

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | (env or {})
        self.log = (cwd / f"server-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rag", "serve", "--index", str(index_dir), "--port", str(self.port)],
            cwd=cwd,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 120) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.cwd / f'server-{self.port}.log').read_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server on port {self.port} did not come up in {timeout} s")

    def stop(self) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a server that will not stop is killed
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def server(seed_index: BuildReport) -> Iterator[RunningServer]:
    """The real server over the seed index, started in the folder that holds the corpus copy."""
    running = RunningServer(seed_index.index_dir, cwd=Path(seed_index.manifest.corpus_roots[0]).parent)
    yield running
    running.stop()


API_KEY = "s3cret-key-for-tests"


@pytest.fixture(scope="session")
def keyed_server(seed_index: BuildReport) -> Iterator[RunningServer]:
    """The real server over the seed index with ``RAG_API_KEY`` set to ``API_KEY``."""
    running = RunningServer(
        seed_index.index_dir, cwd=Path(seed_index.manifest.corpus_roots[0]).parent, env={"RAG_API_KEY": API_KEY}
    )
    yield running
    running.stop()
