"""Shared fixtures, each built once per session: the real model and a real index of the seed corpus (for the
``slow`` tests), and a stand-in model with its own index of the seed corpus (for everything else).

A test that takes the real model, a real index or a real server must be marked ``slow``: collection fails
otherwise, so the fast tier (``pytest -m "not slow"``) never loads the real model by accident."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from standin import make_standin_model

from rag.embedding import Embedder
from rag.index.build import BuildReport, build_index
from rag.search.searcher import Searcher
from rag.settings import Settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds"
DEV_QUESTIONS = Path(__file__).resolve().parent / "data" / "seeds_dev.jsonl"
CITATION_FIELDS = {"source", "start", "end", "line_start", "line_end", "date", "doc_id", "section", "page"} | {
    "page_label"
}


REAL_MODEL_FIXTURES = {"embedder", "seed_index", "seed_searcher", "server", "keyed_server"}
SLOW_MARKERS = ("model", "server", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run a test that takes the real model or a real server, or is marked as needing one, without the
    ``slow`` mark: the fast tier must never load them."""
    unmarked = [
        item.nodeid
        for item in items
        if item.get_closest_marker("slow") is None
        and (
            REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
            or any(item.get_closest_marker(name) for name in SLOW_MARKERS)
        )
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the real model, a real server or a browser but are not marked slow: " + ", ".join(unmarked)
        )


# Vector stores -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a real Milvus standalone server (the ``milvus`` PyPI package) on loopback for the session,
    stopped by its process id at the end; skipped with the reason where it cannot start."""
    from milvus_for_tests import MilvusUnavailable, running_milvus

    try:
        with running_milvus(tmp_path_factory.mktemp("milvus-server")) as uri:
            yield uri
    except MilvusUnavailable as exc:
        pytest.skip(f"no Milvus server here: {exc}")


def store_settings(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Settings that put an index's vectors in ``kind`` of store, in a collection of its own."""
    import uuid

    collection = f"test_{uuid.uuid4().hex[:12]}"
    if kind == "milvus-lite":
        return {"vector_store": f"milvus-lite:{tmp_path / 'milvus.db'}", "milvus_collection": collection}
    if kind == "milvus":
        return {"vector_store": request.getfixturevalue("milvus_server"), "milvus_collection": collection}
    return {"vector_store": "index"}


def seed_index_on(kind: str, request: pytest.FixtureRequest, settings: Settings, embedder: Embedder) -> Searcher:
    """A searcher over a fresh index of a copy of the seed corpus whose vectors are in ``kind`` of store."""
    from rag.index.reader import open_index

    folder = request.getfixturevalue("tmp_path_factory").mktemp(f"seeds-on-{kind}")
    settings = settings.model_copy(update=store_settings(kind, request, folder))
    shutil.copytree(SEEDS, folder / "seeds")
    build_index([folder / "seeds"], settings, index_dir=folder / "index", embedder=embedder)
    return Searcher(open_index(folder / "index", settings), embedder, settings)


@pytest.fixture(scope="session", params=["index", "milvus-lite"])
def standin_store_searcher(
    request: pytest.FixtureRequest, standin_settings: Settings, standin_embedder: Embedder
) -> Iterator[Searcher]:
    """The seed corpus on FAISS and on Milvus Lite (stand-in model; on a server, citations are checked through
    the service and the real model's answers compared)."""
    searcher = seed_index_on(request.param, request, standin_settings, standin_embedder)
    yield searcher
    searcher.close()


# The real model ----------------------------------------------------------------------------------------------


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


# The stand-in model ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def standin_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the stand-in model (see ``standin.py``)."""
    return make_standin_model(tmp_path_factory.mktemp("models") / "standin")


@pytest.fixture(scope="session")
def standin_settings(standin_model: Path) -> Settings:
    """Default settings but for the model: an index built with the stand-in opens only with these."""
    return Settings(model=str(standin_model), _env_file=None)


@pytest.fixture(scope="session")
def standin_env(standin_model: Path) -> dict[str, str]:
    """The environment a ``rag`` subprocess needs to use the stand-in model."""
    return {"RAG_MODEL": str(standin_model)}


@pytest.fixture(scope="session")
def standin_embedder(standin_settings: Settings) -> Embedder:
    return Embedder(standin_settings.model, device=standin_settings.device, batch_size=standin_settings.batch_size)


@pytest.fixture(scope="session")
def standin_seed_index(
    tmp_path_factory: pytest.TempPathFactory, standin_settings: Settings, standin_embedder: Embedder
) -> BuildReport:
    """An index of a copy of the seed corpus built with the stand-in model, built once; tests must not modify it.
    Chunks are those of the real index (same tokenizer, same settings); only the vectors differ."""
    corpus = tmp_path_factory.mktemp("standin-corpus") / "seeds"
    shutil.copytree(SEEDS, corpus)
    index_dir = tmp_path_factory.mktemp("standin-index")
    return build_index([corpus], standin_settings, index_dir=index_dir, embedder=standin_embedder)


@pytest.fixture(scope="session")
def standin_searcher(
    standin_seed_index: BuildReport, standin_settings: Settings, standin_embedder: Embedder
) -> Iterator[Searcher]:
    from rag.index.reader import open_index

    searcher = Searcher(open_index(standin_seed_index.index_dir, standin_settings), standin_embedder, standin_settings)
    yield searcher
    searcher.close()


@pytest.fixture(scope="module")
def app_client(
    standin_seed_index: BuildReport, standin_settings: Settings, standin_embedder: Embedder
) -> Iterator[TestClient]:
    """The service in this process (FastAPI's TestClient, lifespan included) over the stand-in index of the seeds,
    run from the folder that holds the corpus copy, as the real server is (citations read ``seeds/...``)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from rag.index.reader import open_index

    settings = standin_settings.model_copy(update={"reload_interval": 0})
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(Path(standin_seed_index.manifest.corpus_roots[0]).parent)
        searcher = Searcher(open_index(standin_seed_index.index_dir, settings), standin_embedder, settings)
        with searcher, TestClient(create_app(settings, searcher=searcher)) as client:
            yield client


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (if untrained) cross-encoder: a small random BERT (fixed seed) with the real model's tokenizer under a
    one-logit head, saved to disk."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag.embedding import resolve_model_path
    from rag.settings import DEFAULT_MODEL

    base = resolve_model_path(DEFAULT_MODEL)
    config = BertConfig.from_pretrained(
        base, num_labels=1, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    path = tmp_path_factory.mktemp("models") / "tiny-cross-encoder"
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(base).save_pretrained(path)
    return path


# Helpers -----------------------------------------------------------------------------------------------------


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
        self.index_dir = index_dir
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
